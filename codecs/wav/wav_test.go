package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openborder/openborder/test/testenv"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	pos int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := m.pos + int64(len(p)); need > int64(len(m.b)) {
		if need > int64(cap(m.b)) {
			m.b = append(m.b[:cap(m.b)], make([]byte, need-int64(cap(m.b)))...)
		}
		m.b = m.b[:need]
	}
	copy(m.b[m.pos:], p)
	m.pos += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.pos = off
	case io.SeekCurrent:
		m.pos += off
	case io.SeekEnd:
		m.pos = int64(len(m.b)) + off
	}
	return m.pos, nil
}

func ramp(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(i*977 - 30000)
	}
	return s
}

func readAll(t *testing.T, r *Reader, chunk int) []int16 {
	t.Helper()
	var out []int16
	buf := make([]int16, chunk)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		rate, channels, frames int
	}{
		{8000, 1, 8000}, {16000, 1, 1234}, {48000, 2, 4800}, {44100, 2, 1}, {22050, 1, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dHz-%dch-%d", tc.rate, tc.channels, tc.frames), func(t *testing.T) {
			f := &memFile{}
			w, err := NewWriter(f, tc.rate, tc.channels)
			if err != nil {
				t.Fatal(err)
			}
			in := ramp(tc.frames * tc.channels)
			// Write in uneven pieces of whole frames.
			for off := 0; off < len(in); {
				n := min(len(in)-off, tc.channels*(1+off%3001))
				if _, err := w.Write(in[off : off+n]); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if got := len(f.b); got != headerSize+2*len(in) {
				t.Fatalf("file is %d bytes, want %d", got, headerSize+2*len(in))
			}
			r, err := NewReader(bytes.NewReader(f.b))
			if err != nil {
				t.Fatal(err)
			}
			want := Format{Encoding: PCM16, SampleRate: tc.rate, Channels: tc.channels}
			if r.Format() != want {
				t.Fatalf("Format = %+v, want %+v", r.Format(), want)
			}
			wantFrames := int64(tc.frames)
			if wantFrames == 0 {
				wantFrames = -1 // a zero size reads as "unknown"
			}
			if r.Frames() != wantFrames {
				t.Fatalf("Frames = %d, want %d", r.Frames(), wantFrames)
			}
			out := readAll(t, r, 333)
			if !equal(out, in) {
				t.Fatalf("read back %d samples, differ from the %d written", len(out), len(in))
			}
		})
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// build assembles a WAV file from chunks (id, payload); sizes are filled
// in and odd payloads padded.
func build(chunks ...any) []byte {
	var body bytes.Buffer
	body.WriteString("WAVE")
	for i := 0; i < len(chunks); i += 2 {
		id, payload := chunks[i].(string), chunks[i+1].([]byte)
		body.WriteString(id)
		binary.Write(&body, binary.LittleEndian, uint32(len(payload)))
		body.Write(payload)
		if len(payload)%2 == 1 {
			body.WriteByte(0)
		}
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

func fmtChunk(code, channels, rate, bits int) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], uint16(code))
	binary.LittleEndian.PutUint16(b[2:], uint16(channels))
	binary.LittleEndian.PutUint32(b[4:], uint32(rate))
	binary.LittleEndian.PutUint32(b[8:], uint32(rate*channels*bits/8))
	binary.LittleEndian.PutUint16(b[12:], uint16(channels*bits/8))
	binary.LittleEndian.PutUint16(b[14:], uint16(bits))
	return b
}

func extensible(code, channels, rate, bits int) []byte {
	b := fmtChunk(formatExtensible, channels, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)           // cbSize
	binary.LittleEndian.PutUint16(ext[2:], uint16(bits)) // valid bits
	binary.LittleEndian.PutUint32(ext[4:], 4)            // channel mask: front centre
	binary.LittleEndian.PutUint16(ext[8:], uint16(code))
	copy(ext[10:], subFormatTail[:])
	return append(b, ext...)
}

func TestReadEncodings(t *testing.T) {
	pcm16 := []byte{0x01, 0x00, 0xff, 0x7f, 0x00, 0x80, 0xff, 0xff}
	tests := []struct {
		name string
		file []byte
		want Format
		pcm  []int16
	}{
		{"pcm8", build("fmt ", fmtChunk(1, 1, 8000, 8), "data", []byte{0, 128, 255}),
			Format{PCM8, 8000, 1}, []int16{-32768, 0, 32512}},
		{"alaw", build("fmt ", fmtChunk(6, 1, 8000, 8), "data", []byte{0xd5, 0x55, 0xaa, 0x2a}),
			Format{ALaw, 8000, 1}, []int16{8, -8, 32256, -32256}},
		{"ulaw", build("fmt ", fmtChunk(7, 1, 8000, 8), "data", []byte{0xff, 0x7f, 0x80, 0x00}),
			Format{MuLaw, 8000, 1}, []int16{0, 0, 32124, -32124}},
		{"pcm16 stereo", build("fmt ", fmtChunk(1, 2, 16000, 16), "data", pcm16),
			Format{PCM16, 16000, 2}, []int16{1, 32767, -32768, -1}},
		{"extensible pcm16", build("fmt ", extensible(1, 1, 48000, 16), "data", pcm16),
			Format{PCM16, 48000, 1}, []int16{1, 32767, -32768, -1}},
		{"extensible ulaw", build("fmt ", extensible(7, 1, 8000, 8), "data", []byte{0x80}),
			Format{MuLaw, 8000, 1}, []int16{32124}},
		{"unknown chunks skipped", build("LIST", []byte("odd"), "fmt ", fmtChunk(1, 1, 8000, 16), "fact", []byte{1, 0, 0, 0}, "data", pcm16),
			Format{PCM16, 8000, 1}, []int16{1, 32767, -32768, -1}},
		{"size never patched", func() []byte {
			b := build("fmt ", fmtChunk(1, 1, 8000, 16), "data", pcm16)
			binary.LittleEndian.PutUint32(b[len(b)-len(pcm16)-4:], 0)
			return b
		}(), Format{PCM16, 8000, 1}, []int16{1, 32767, -32768, -1}},
		{"dangling odd byte ignored", build("fmt ", fmtChunk(1, 1, 8000, 16), "data", []byte{2, 0, 9}),
			Format{PCM16, 8000, 1}, []int16{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != tc.want {
				t.Fatalf("Format = %+v, want %+v", r.Format(), tc.want)
			}
			// A reader without Seek exercises the copying skip path.
			r2, err := NewReader(io.MultiReader(bytes.NewReader(tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			for _, rd := range []*Reader{r, r2} {
				if got := readAll(t, rd, 3); !equal(got, tc.pcm) {
					t.Fatalf("samples %v, want %v", got, tc.pcm)
				}
			}
		})
	}
}

func TestG711Tables(t *testing.T) {
	// Every code expands to a value that is odd-symmetric in its sign bit.
	for i := 0; i < 128; i++ {
		if alawTable[i] != -alawTable[i|0x80] {
			t.Fatalf("A-law %#x = %d, %#x = %d", i, alawTable[i], i|0x80, alawTable[i|0x80])
		}
		if ulawTable[i] != -ulawTable[i|0x80] {
			t.Fatalf("µ-law %#x = %d, %#x = %d", i, ulawTable[i], i|0x80, ulawTable[i|0x80])
		}
	}
	// Magnitudes grow monotonically with the code within each sign.
	for i := 0x81; i < 0x100; i++ {
		if ulawTable[i] >= ulawTable[i-1] { // µ-law codes are inverted
			t.Fatalf("µ-law not monotonic at %#x", i)
		}
	}
}

func TestReadErrors(t *testing.T) {
	good := build("fmt ", fmtChunk(1, 1, 8000, 16), "data", make([]byte, 100))
	truncated := good[:len(good)-10]
	wrongGUID := extensible(1, 1, 8000, 16)
	wrongGUID[30] ^= 0xff
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", []byte("RIFF\x00\x00"), ErrTruncated},
		{"not riff", []byte("RIFX\x00\x00\x00\x00WAVE"), ErrInvalid},
		{"not wave", []byte("RIFF\x00\x00\x00\x00AVI "), ErrInvalid},
		{"no chunks", []byte("RIFF\x04\x00\x00\x00WAVE"), ErrTruncated},
		{"data before fmt", build("data", []byte{0, 0}, "fmt ", fmtChunk(1, 1, 8000, 16)), ErrInvalid},
		{"no data", build("fmt ", fmtChunk(1, 1, 8000, 16)), ErrTruncated},
		{"fmt too short", build("fmt ", make([]byte, 14), "data", []byte{0, 0}), ErrInvalid},
		{"fmt truncated", good[:30], ErrTruncated},
		{"two fmt", build("fmt ", fmtChunk(1, 1, 8000, 16), "fmt ", fmtChunk(1, 1, 8000, 16)), ErrInvalid},
		{"float", build("fmt ", fmtChunk(3, 1, 8000, 32), "data", []byte{0, 0, 0, 0}), ErrUnsupported},
		{"24 bit", build("fmt ", fmtChunk(1, 1, 8000, 24), "data", []byte{0, 0, 0}), ErrUnsupported},
		{"zero channels", build("fmt ", fmtChunk(1, 0, 8000, 16), "data", []byte{0, 0}), ErrInvalid},
		{"zero rate", build("fmt ", fmtChunk(1, 1, 0, 16), "data", []byte{0, 0}), ErrInvalid},
		{"bad block align", build("fmt ", func() []byte { b := fmtChunk(1, 2, 8000, 16); b[12] = 3; return b }(), "data", []byte{0, 0}), ErrInvalid},
		{"extensible short", build("fmt ", extensible(1, 1, 8000, 16)[:30], "data", []byte{0, 0}), ErrInvalid},
		{"extensible guid", build("fmt ", wrongGUID, "data", []byte{0, 0}), ErrUnsupported},
		{"unknown chunk truncated", []byte("RIFF\x00\x00\x00\x00WAVELIST\xff\x00\x00\x00abc"), ErrTruncated},
		{"data truncated", truncated, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Both seekable and stream readers must report the same.
			for _, src := range []io.Reader{bytes.NewReader(tc.file), io.MultiReader(bytes.NewReader(tc.file))} {
				r, err := NewReader(src)
				if err == nil {
					_, err = io.Copy(io.Discard, readerFunc(func(p []byte) (int, error) {
						buf := make([]int16, len(p)/2+1)
						n, err := r.Read(buf)
						return min(n, len(p)), err
					}))
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(&memFile{}, 0, 1); !errors.Is(err, ErrFormat) {
		t.Errorf("rate 0: err = %v, want ErrFormat", err)
	}
	if _, err := NewWriter(&memFile{}, 8000, 0); !errors.Is(err, ErrFormat) {
		t.Errorf("0 channels: err = %v, want ErrFormat", err)
	}
	w, err := NewWriter(&memFile{}, 8000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]int16, 3)); !errors.Is(err, ErrFormat) {
		t.Errorf("half a frame: err = %v, want ErrFormat", err)
	}
	w.data = maxDataBytes - 2
	if _, err := w.Write(make([]int16, 2)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("past 4 GiB: err = %v, want ErrTooLarge", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]int16, 2)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: err = %v, want ErrClosed", err)
	}
}

// TestFlushMidRecording reads a recording while it is still being written.
func TestFlushMidRecording(t *testing.T) {
	f := &memFile{}
	w, err := NewWriter(f, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Before any Flush the data size is unknown: a reader takes all there is.
	if _, err := w.Write(ramp(160)); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(append([]byte(nil), f.b...)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Frames() != -1 || len(readAll(t, r, 100)) != 160 {
		t.Fatalf("unpatched file: Frames = %d", r.Frames())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ramp(80)); err != nil {
		t.Fatal(err)
	}
	r, err = NewReader(bytes.NewReader(f.b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Frames() != 160 {
		t.Fatalf("after Flush: Frames = %d, want 160", r.Frames())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err = NewReader(bytes.NewReader(f.b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Frames() != 240 || w.Frames() != 240 {
		t.Fatalf("after Close: Frames = %d / %d, want 240", r.Frames(), w.Frames())
	}
}

// TestSoxReadsOurFile checks with sox that a file we wrote has the right
// rate, channel count and length.
func TestSoxReadsOurFile(t *testing.T) {
	sox := testenv.RequireTool(t, "sox")
	tests := []struct{ rate, channels, frames int }{{8000, 1, 8000}, {16000, 2, 3210}, {48000, 1, 960}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-%d", tc.rate, tc.channels), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rec.wav")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(f, tc.rate, tc.channels)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(ramp(tc.frames * tc.channels)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			info := func(flag string) int {
				out, err := exec.Command(sox, "--i", flag, path).CombinedOutput()
				if err != nil {
					t.Fatalf("sox --i %s: %v: %s", flag, err, out)
				}
				v, err := strconv.Atoi(strings.TrimSpace(string(out)))
				if err != nil {
					t.Fatalf("sox --i %s printed %q", flag, out)
				}
				return v
			}
			if got := info("-r"); got != tc.rate {
				t.Errorf("sox rate %d, want %d", got, tc.rate)
			}
			if got := info("-c"); got != tc.channels {
				t.Errorf("sox channels %d, want %d", got, tc.channels)
			}
			if got := info("-s"); got != tc.frames {
				t.Errorf("sox samples %d, want %d", got, tc.frames)
			}
			if got := info("-b"); got != 16 {
				t.Errorf("sox bits %d, want 16", got)
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	f := &memFile{b: make([]byte, 0, 1<<20)}
	w, err := NewWriter(f, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	frame := ramp(160)
	if a := testing.AllocsPerRun(100, func() { _, _ = w.Write(frame) }); a != 0 {
		t.Errorf("Write: %v allocations per frame", a)
	}
	_ = w.Close()
	r, err := NewReader(bytes.NewReader(f.b))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]int16, 160)
	if a := testing.AllocsPerRun(100, func() { _, _ = r.Read(buf) }); a != 0 {
		t.Errorf("Read: %v allocations per frame", a)
	}
}

// TestReadSoxFiles reads files that sox wrote in each encoding we decode
// (sox adds a fact chunk and an 18-byte fmt chunk for G.711).
func TestReadSoxFiles(t *testing.T) {
	sox := testenv.RequireTool(t, "sox")
	tests := []struct {
		name string
		args []string
		want Format
	}{
		{"pcm16 stereo", []string{"-r", "16000", "-c", "2", "-b", "16", "-e", "signed-integer"}, Format{PCM16, 16000, 2}},
		{"pcm8", []string{"-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"}, Format{PCM8, 8000, 1}},
		{"alaw", []string{"-r", "8000", "-c", "1", "-e", "a-law"}, Format{ALaw, 8000, 1}},
		{"ulaw", []string{"-r", "8000", "-c", "1", "-e", "u-law"}, Format{MuLaw, 8000, 1}},
		// sox writes WAVE_FORMAT_EXTENSIBLE for more than two channels.
		{"extensible 3ch", []string{"-r", "48000", "-c", "3", "-b", "16", "-e", "signed-integer"}, Format{PCM16, 48000, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sox.wav")
			args := append([]string{"-n"}, tc.args...)
			args = append(args, path, "synth", "0.1", "sine", "1000", "vol", "0.5")
			if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
				t.Fatalf("sox %v: %v: %s", args, err, out)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != tc.want {
				t.Fatalf("Format = %+v, want %+v", r.Format(), tc.want)
			}
			frames := tc.want.SampleRate / 10
			if r.Frames() != int64(frames) {
				t.Fatalf("Frames = %d, want %d", r.Frames(), frames)
			}
			pcm := readAll(t, r, 160)
			if len(pcm) != frames*tc.want.Channels {
				t.Fatalf("%d samples, want %d", len(pcm), frames*tc.want.Channels)
			}
			peak := 0
			for _, v := range pcm {
				peak = max(peak, int(v), -int(v))
			}
			// vol 0.5 of full scale, within the coarsest (8-bit) step.
			if peak < 16384-600 || peak > 16384+600 {
				t.Fatalf("peak %d, want about 16384", peak)
			}
		})
	}
}
