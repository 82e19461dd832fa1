package wav

import (
	"bytes"
	"testing"
)

// BenchmarkWrite20ms writes one 20 ms frame of 16 kHz mono.
func BenchmarkWrite20ms(b *testing.B) {
	f := &memFile{b: make([]byte, 0, 64<<20)}
	w, err := NewWriter(f, 16000, 1)
	if err != nil {
		b.Fatal(err)
	}
	frame := ramp(320)
	b.ReportAllocs()
	b.SetBytes(640)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%50000 == 0 {
			f.pos = headerSize // keep the buffer bounded
		}
		if _, err := w.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead20ms reads one 20 ms frame of 16 kHz mono PCM16 or 8 kHz
// µ-law.
func BenchmarkRead20ms(b *testing.B) {
	for _, tc := range []struct {
		name  string
		file  []byte
		frame int
	}{
		{"pcm16", build("fmt ", fmtChunk(1, 1, 16000, 16), "data", make([]byte, 640*100)), 320},
		{"ulaw", build("fmt ", fmtChunk(7, 1, 8000, 8), "data", make([]byte, 160*100)), 160},
	} {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]int16, tc.frame)
			br := bytes.NewReader(tc.file)
			r, err := NewReader(br)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(2 * tc.frame))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%100 == 99 {
					b.StopTimer()
					br.Reset(tc.file)
					if r, err = NewReader(br); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if _, err := r.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
