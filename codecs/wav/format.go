package wav

import "fmt"

// Encoding is the sample encoding of a WAV file.
type Encoding int

const (
	// PCM16 is signed 16-bit little-endian linear PCM.
	PCM16 Encoding = iota + 1
	// PCM8 is unsigned 8-bit linear PCM.
	PCM8
	// ALaw is G.711 A-law, one byte per sample.
	ALaw
	// MuLaw is G.711 µ-law, one byte per sample.
	MuLaw
)

// String names the encoding.
func (e Encoding) String() string {
	switch e {
	case PCM16:
		return "pcm16"
	case PCM8:
		return "pcm8"
	case ALaw:
		return "alaw"
	case MuLaw:
		return "ulaw"
	}
	return fmt.Sprintf("encoding(%d)", int(e))
}

// bytesPerSample returns the stored size of one sample.
func (e Encoding) bytesPerSample() int {
	if e == PCM16 {
		return 2
	}
	return 1
}

// Format describes the audio of a WAV file.
type Format struct {
	Encoding   Encoding
	SampleRate int // Hz
	Channels   int
}

// WAVE format codes (RFC 2361).
const (
	formatPCM        = 0x0001
	formatALaw       = 0x0006
	formatMuLaw      = 0x0007
	formatExtensible = 0xFFFE
)

// Limits applied when reading.
const (
	maxChannels   = 16
	maxSampleRate = 768000
	maxChunks     = 1024 // chunks skipped before data
)

// subFormatTail is the fixed part of the KSDATAFORMAT_SUBTYPE GUIDs that
// carry a WAVE format code in their first two bytes.
var subFormatTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// G.711 expansion tables (ITU-T G.711), built once.
var (
	alawTable = buildTable(alawToLinear)
	ulawTable = buildTable(ulawToLinear)
)

func buildTable(f func(byte) int16) *[256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = f(byte(i))
	}
	return &t
}

// alawToLinear expands an A-law byte: even bits inverted, then sign,
// 3-bit segment and 4-bit mantissa.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	seg := int(a>>4) & 7
	v := int(a&0x0f)<<4 + 8
	if seg > 0 {
		v = (v + 0x100) << (seg - 1)
	}
	if a&0x80 == 0 {
		v = -v
	}
	return int16(v)
}

// ulawToLinear expands a µ-law byte: all bits inverted, then sign, 3-bit
// segment and 4-bit mantissa with the bias of 132 removed.
func ulawToLinear(u byte) int16 {
	u = ^u
	v := (int(u&0x0f)<<3 + 0x84) << (int(u>>4) & 7)
	v -= 0x84
	if u&0x80 != 0 {
		v = -v
	}
	return int16(v)
}
