package wav

import (
	"encoding/binary"
	"fmt"
	"io"
)

const (
	headerSize   = 44
	maxDataBytes = 0xFFFFFFFF - (headerSize - 8) // RIFF size field limit
	writeBufSize = 4096
	unknownSize  = 0xFFFFFFFF
)

// Writer writes 16-bit PCM to a WAV file as a stream. The header is
// written first with the "unknown" size 0xFFFFFFFF; Flush and Close patch
// the real sizes in, and a file left by a crash still opens (Reader and
// most tools read it to its end). It is
// not safe for concurrent use.
type Writer struct {
	w      io.WriteSeeker
	f      Format
	data   int64 // data bytes written
	buf    []byte
	err    error // sticky write error
	closed bool
}

// NewWriter writes a 16-bit PCM WAV header for sampleRate Hz and channels
// (1 or 2 or up to 16) to w, which must be positioned at its start.
func NewWriter(w io.WriteSeeker, sampleRate, channels int) (*Writer, error) {
	if sampleRate < 1 || sampleRate > maxSampleRate {
		return nil, fmt.Errorf("%w: sample rate %d Hz", ErrFormat, sampleRate)
	}
	if channels < 1 || channels > maxChannels {
		return nil, fmt.Errorf("%w: %d channels", ErrFormat, channels)
	}
	wr := &Writer{
		w:   w,
		f:   Format{Encoding: PCM16, SampleRate: sampleRate, Channels: channels},
		buf: make([]byte, writeBufSize),
	}
	h := wr.buf[:headerSize]
	copy(h[0:4], "RIFF")
	binary.LittleEndian.PutUint32(h[4:8], unknownSize)
	copy(h[8:16], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], formatPCM)
	binary.LittleEndian.PutUint16(h[22:24], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:28], uint32(sampleRate))
	binary.LittleEndian.PutUint32(h[28:32], uint32(sampleRate*channels*2))
	binary.LittleEndian.PutUint16(h[32:34], uint16(channels*2))
	binary.LittleEndian.PutUint16(h[34:36], 16)
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], unknownSize)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("wav: write header: %w", err)
	}
	return wr, nil
}

// Format returns the format being written.
func (wr *Writer) Format() Format { return wr.f }

// Frames returns the sample frames written so far.
func (wr *Writer) Frames() int64 { return wr.data / int64(2*wr.f.Channels) }

// Write appends interleaved samples; len(pcm) must be a whole number of
// frames. It does not allocate.
func (wr *Writer) Write(pcm []int16) (int, error) {
	if wr.closed {
		return 0, ErrClosed
	}
	if wr.err != nil {
		return 0, wr.err
	}
	if len(pcm)%wr.f.Channels != 0 {
		return 0, fmt.Errorf("%w: %d samples for %d channels", ErrFormat, len(pcm), wr.f.Channels)
	}
	if wr.data+2*int64(len(pcm)) > maxDataBytes {
		return 0, fmt.Errorf("%w: %d data bytes", ErrTooLarge, wr.data+2*int64(len(pcm)))
	}
	done := 0
	for done < len(pcm) {
		n := min(len(pcm)-done, len(wr.buf)/2)
		b := wr.buf[:2*n]
		for i, v := range pcm[done : done+n] {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		m, err := wr.w.Write(b)
		wr.data += int64(m)
		if err != nil {
			wr.err = fmt.Errorf("wav: write data: %w", err)
			return done + m/2, wr.err
		}
		done += n
	}
	return done, nil
}

// Flush patches the RIFF and data sizes for what has been written so far
// and seeks back to the end, so the file is complete at this point.
func (wr *Writer) Flush() error {
	if wr.closed {
		return ErrClosed
	}
	return wr.patch()
}

func (wr *Writer) patch() error {
	if wr.err != nil {
		return wr.err
	}
	var b [4]byte
	steps := []struct {
		off int64
		val uint32
	}{
		{4, uint32(headerSize - 8 + wr.data)},
		{40, uint32(wr.data)},
	}
	for _, s := range steps {
		binary.LittleEndian.PutUint32(b[:], s.val)
		if _, err := wr.w.Seek(s.off, io.SeekStart); err != nil {
			return fmt.Errorf("wav: patch header: %w", err)
		}
		if _, err := wr.w.Write(b[:]); err != nil {
			return fmt.Errorf("wav: patch header: %w", err)
		}
	}
	if _, err := wr.w.Seek(headerSize+wr.data, io.SeekStart); err != nil {
		return fmt.Errorf("wav: patch header: %w", err)
	}
	return nil
}

// Close patches the header sizes. It does not close the underlying
// writer. Close is idempotent: later calls return nil.
func (wr *Writer) Close() error {
	if wr.closed {
		return nil
	}
	wr.closed = true
	return wr.patch()
}
