package wav

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader: arbitrary bytes must give a classified error or samples,
// never a crash or a hang, and never more samples than the file has bytes.
func FuzzReader(f *testing.F) {
	f.Add(build("fmt ", fmtChunk(1, 1, 8000, 16), "data", []byte{1, 2, 3, 4}))
	f.Add(build("LIST", []byte("x"), "fmt ", extensible(7, 2, 8000, 8), "data", []byte{1, 2, 3}))
	f.Add(build("fmt ", fmtChunk(6, 1, 8000, 8), "data", []byte{0xd5}))
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		buf := make([]int16, 97)
		total := 0
		for i := 0; ; i++ {
			if i > len(file) {
				t.Fatal("Read does not reach the end")
			}
			n, err := r.Read(buf)
			total += n
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("unclassified read error %v", err)
				}
				break
			}
		}
		if total > len(file) {
			t.Fatalf("%d samples from %d bytes", total, len(file))
		}
	})
}
