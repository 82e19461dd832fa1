package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufSize is the byte buffer Read decodes through.
const readBufSize = 4096

// Reader decodes the samples of a WAV file. It is not safe for concurrent
// use.
type Reader struct {
	r         io.Reader
	f         Format
	block     int   // bytes per frame
	remaining int64 // data bytes left, or -1 to read until EOF
	frames    int64 // frames in the data chunk, or -1 if unknown
	buf       []byte
	partial   int // bytes of an incomplete sample kept at the start of buf
}

// readFull reads exactly len(b) bytes, turning an early end into
// ErrTruncated.
func readFull(r io.Reader, b []byte, what string) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %s", ErrTruncated, what)
		}
		return fmt.Errorf("wav: read %s: %w", what, err)
	}
	return nil
}

// NewReader reads the RIFF header and chunks up to the start of the audio
// data and returns a Reader positioned on the first sample.
func NewReader(r io.Reader) (*Reader, error) {
	var hdr [12]byte
	if err := readFull(r, hdr[:], "RIFF header"); err != nil {
		return nil, err
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: no RIFF/WAVE signature", ErrInvalid)
	}
	rd := &Reader{r: r}
	haveFmt := false
	for n := 0; n < maxChunks; n++ {
		var ch [8]byte
		if err := readFull(r, ch[:], "chunk header"); err != nil {
			if !haveFmt {
				return nil, fmt.Errorf("%w (no fmt chunk)", err)
			}
			return nil, fmt.Errorf("%w (no data chunk)", err)
		}
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if haveFmt {
				return nil, fmt.Errorf("%w: second fmt chunk", ErrInvalid)
			}
			if err := rd.parseFmt(size); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalid)
			}
			rd.remaining, rd.frames = size, size/int64(rd.block)
			if size == 0 || size == unknownSize {
				rd.remaining, rd.frames = -1, -1 // never patched: read to EOF
			}
			rd.buf = make([]byte, readBufSize)
			return rd, nil
		default:
			if err := skip(r, size+size&1); err != nil { // chunks are padded to even sizes
				return nil, fmt.Errorf("%w (chunk %q of %d bytes)", err, id, size)
			}
		}
	}
	return nil, fmt.Errorf("%w: more than %d chunks before data", ErrInvalid, maxChunks)
}

// skip discards n bytes.
func skip(r io.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		// Seeking cannot detect the end of the file; the next read will.
		if _, err := s.Seek(n, io.SeekCurrent); err == nil {
			return nil
		}
	}
	got, err := io.CopyN(io.Discard, r, n)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: inside a chunk", ErrTruncated)
		}
		return fmt.Errorf("wav: skip chunk: %w", err)
	}
	return nil
}

// parseFmt reads and checks a fmt chunk of the given size.
func (rd *Reader) parseFmt(size int64) error {
	if size < 16 || size > 1024 {
		return fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalid, size)
	}
	b := make([]byte, size+size&1)
	if err := readFull(rd.r, b, "fmt chunk"); err != nil {
		return err
	}
	code := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int64(binary.LittleEndian.Uint32(b[4:8]))
	blockAlign := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if code == formatExtensible {
		if size < 40 {
			return fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", ErrInvalid, size)
		}
		if [14]byte(b[26:40]) != subFormatTail {
			return fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE sub-format % x", ErrUnsupported, b[24:40])
		}
		code = binary.LittleEndian.Uint16(b[24:26])
		if valid := int(binary.LittleEndian.Uint16(b[18:20])); valid != 0 && valid != bits {
			return fmt.Errorf("%w: %d valid bits in %d-bit samples", ErrUnsupported, valid, bits)
		}
	}
	if channels < 1 || channels > maxChannels {
		return fmt.Errorf("%w: %d channels", ErrInvalid, channels)
	}
	if rate < 1 || rate > maxSampleRate {
		return fmt.Errorf("%w: sample rate %d Hz", ErrInvalid, rate)
	}
	var enc Encoding
	switch {
	case code == formatPCM && bits == 16:
		enc = PCM16
	case code == formatPCM && bits == 8:
		enc = PCM8
	case code == formatALaw && bits == 8:
		enc = ALaw
	case code == formatMuLaw && bits == 8:
		enc = MuLaw
	default:
		return fmt.Errorf("%w: format code 0x%04x with %d bits per sample", ErrUnsupported, code, bits)
	}
	if blockAlign != channels*enc.bytesPerSample() {
		return fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrInvalid, blockAlign, channels, bits)
	}
	rd.f = Format{Encoding: enc, SampleRate: int(rate), Channels: channels}
	rd.block = blockAlign
	return nil
}

// Format returns the audio format.
func (rd *Reader) Format() Format { return rd.f }

// Frames returns the number of sample frames (samples per channel) the
// data chunk declares, or -1 when its size is unknown (0 or 0xFFFFFFFF:
// never patched), in which case Read goes on to the end of the file.
func (rd *Reader) Frames() int64 { return rd.frames }

// maxStalls bounds consecutive empty reads from a misbehaving io.Reader.
const maxStalls = 100

// Read decodes up to len(pcm) samples (interleaved, 16-bit linear) and
// returns how many it wrote. At the end of the data it returns 0, io.EOF;
// a file that ends before its declared data size gives ErrTruncated. A
// dangling byte of an incomplete 16-bit sample at the end is ignored.
func (rd *Reader) Read(pcm []int16) (int, error) {
	bps := rd.f.Encoding.bytesPerSample()
	written, stalls := 0, 0
	for written < len(pcm) && rd.remaining != 0 {
		want := min((len(pcm)-written)*bps, len(rd.buf)) - rd.partial
		if rd.remaining > 0 {
			want = int(min(int64(want), rd.remaining))
		}
		n, err := rd.r.Read(rd.buf[rd.partial : rd.partial+want])
		if rd.remaining > 0 {
			rd.remaining -= int64(n)
		}
		have := rd.partial + n
		samples := have / bps
		rd.decode(pcm[written:written+samples], rd.buf[:samples*bps])
		written += samples
		rd.partial = copy(rd.buf, rd.buf[samples*bps:have])
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return written, fmt.Errorf("wav: read data: %w", err)
			}
			if rd.remaining > 0 {
				return written, fmt.Errorf("%w: data ends %d bytes early", ErrTruncated, rd.remaining)
			}
			rd.remaining = 0
			break
		}
		if n > 0 {
			stalls = 0
		} else if stalls++; stalls > maxStalls {
			return written, fmt.Errorf("wav: read data: %w", io.ErrNoProgress)
		}
	}
	if written == 0 && len(pcm) > 0 && rd.remaining == 0 {
		return 0, io.EOF
	}
	return written, nil
}

// decode converts len(dst) stored samples from src.
func (rd *Reader) decode(dst []int16, src []byte) {
	switch rd.f.Encoding {
	case PCM16:
		for i := range dst {
			dst[i] = int16(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case PCM8:
		for i := range dst {
			dst[i] = (int16(src[i]) - 128) << 8
		}
	case ALaw:
		for i := range dst {
			dst[i] = alawTable[src[i]]
		}
	case MuLaw:
		for i := range dst {
			dst[i] = ulawTable[src[i]]
		}
	}
}
