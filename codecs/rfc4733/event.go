package rfc4733

import (
	"encoding/binary"
	"fmt"
)

// PayloadSize is the size of one event block on the wire.
const PayloadSize = 4

// Event codes with a meaning beyond the 16 DTMF keys.
const (
	// Flash is the hook-flash event (code 16).
	Flash uint8 = 16
	// MaxDTMF is the highest DTMF key code ('D').
	MaxDTMF uint8 = 15
	// MaxVolume is the largest volume value (-63 dBm0).
	MaxVolume uint8 = 63
	// MaxDuration is the largest duration one event block can carry.
	MaxDuration = 0xFFFF
)

// Event is one telephone-event block: RFC 4733 section 2.3.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Event struct {
	// Code is the event code (0-15 DTMF keys, 16 flash, others as registered).
	Code uint8
	// End is the E bit: this block reports the end of the event.
	End bool
	// Volume is the power level as -dBm0, 0..63 (larger is quieter).
	Volume uint8
	// Duration is the event duration so far, in RTP timestamp units.
	Duration uint16
}

// Parse decodes the first event block of b. Trailing bytes are ignored;
// use ParseAll to read every block.
func Parse(b []byte) (Event, error) {
	if len(b) < PayloadSize {
		return Event{}, fmt.Errorf("%w: %d bytes", ErrShortPayload, len(b))
	}
	return Event{
		Code:     b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, nil
}

// ParseAll decodes a payload made of consecutive 4-byte event blocks and
// appends them to dst.
func ParseAll(dst []Event, b []byte) ([]Event, error) {
	if len(b) == 0 {
		return dst, fmt.Errorf("%w: empty", ErrShortPayload)
	}
	if len(b)%PayloadSize != 0 {
		return dst, fmt.Errorf("%w: %d bytes", ErrPayloadLength, len(b))
	}
	for off := 0; off < len(b); off += PayloadSize {
		e, _ := Parse(b[off:]) // length checked above
		dst = append(dst, e)
	}
	return dst, nil
}

// Validate reports whether e can be sent: volume at most 63.
func (e Event) Validate() error {
	if e.Volume > MaxVolume {
		return fmt.Errorf("%w: volume %d above %d", ErrBadEvent, e.Volume, MaxVolume)
	}
	return nil
}

// Put writes e into the first 4 bytes of dst. The reserved bit is sent as 0.
func (e Event) Put(dst []byte) error {
	if len(dst) < PayloadSize {
		return fmt.Errorf("%w: %d bytes", ErrBufferTooSmall, len(dst))
	}
	if err := e.Validate(); err != nil {
		return err
	}
	dst[0] = e.Code
	dst[1] = e.Volume
	if e.End {
		dst[1] |= 0x80
	}
	binary.BigEndian.PutUint16(dst[2:4], e.Duration)
	return nil
}

// Append appends the 4-byte encoding of e to dst.
func (e Event) Append(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	var b [PayloadSize]byte
	_ = e.Put(b[:]) // validated above, buffer large enough
	return append(dst, b[:]...), nil
}

// String renders e for logs and test failures, e.g. "5 end vol=10 dur=800".
func (e Event) String() string {
	key := "?"
	if k, err := Key(e.Code); err == nil {
		key = string(k)
	}
	end := ""
	if e.End {
		end = " end"
	}
	return fmt.Sprintf("%s(%d)%s vol=%d dur=%d", key, e.Code, end, e.Volume, e.Duration)
}

const keys = "0123456789*#ABCD"

// Key returns the key for a DTMF event code: '0'-'9', '*', '#', 'A'-'D',
// or '!' for flash (16).
func Key(code uint8) (byte, error) {
	switch {
	case code <= MaxDTMF:
		return keys[code], nil
	case code == Flash:
		return '!', nil
	}
	return 0, fmt.Errorf("%w: code %d is not a DTMF key or flash", ErrBadEvent, code)
}

// Code returns the event code for a key: '0'-'9', '*', '#', 'A'-'D'
// (lower case accepted) and '!' for flash.
func Code(key byte) (uint8, error) {
	switch {
	case key >= '0' && key <= '9':
		return key - '0', nil
	case key == '*':
		return 10, nil
	case key == '#':
		return 11, nil
	case key >= 'A' && key <= 'D':
		return key - 'A' + 12, nil
	case key >= 'a' && key <= 'd':
		return key - 'a' + 12, nil
	case key == '!':
		return Flash, nil
	}
	return 0, fmt.Errorf("%w: key %q", ErrBadEvent, key)
}
