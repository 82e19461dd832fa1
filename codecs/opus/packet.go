package opus

import "fmt"

// maxFrameBytes is the largest compressed frame RFC 6716 allows (R2).
const maxFrameBytes = 1275

// maxPacketSamples48 is the longest packet duration, 120 ms at 48 kHz (R5).
const maxPacketSamples48 = 5760

// frameSamples48 returns the duration of one frame of the given TOC
// configuration, in samples at 48 kHz (RFC 6716 section 3.1).
func frameSamples48(config byte) int {
	switch {
	case config < 12: // SILK-only: 10, 20, 40, 60 ms
		return [4]int{480, 960, 1920, 2880}[config&3]
	case config < 16: // hybrid: 10, 20 ms
		return [2]int{480, 960}[config&1]
	default: // CELT-only: 2.5, 5, 10, 20 ms
		return [4]int{120, 240, 480, 960}[config&3]
	}
}

// frameLength reads one frame length (one or two bytes, section 3.2.1).
func frameLength(b []byte) (length, used int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: frame length missing", ErrInvalidPacket)
	}
	if b[0] < 252 {
		return int(b[0]), 1, nil
	}
	if len(b) < 2 {
		return 0, 0, fmt.Errorf("%w: two-byte frame length truncated", ErrInvalidPacket)
	}
	return int(b[0]) + 4*int(b[1]), 2, nil
}

// PacketSamples checks pkt against the framing rules of RFC 6716 section
// 3.4 and returns its duration in samples per channel at rate. It reads
// only the packet's framing, not the compressed frames, and does not
// allocate.
func PacketSamples(pkt []byte, rate int) (int, error) {
	if err := checkRate(rate); err != nil {
		return 0, err
	}
	if len(pkt) == 0 {
		return 0, fmt.Errorf("%w: empty packet", ErrInvalidPacket)
	}
	toc := pkt[0]
	per := frameSamples48(toc >> 3)
	rest := len(pkt) - 1
	frames := 0
	switch toc & 3 {
	case 0:
		frames = 1
		if rest > maxFrameBytes {
			return 0, fmt.Errorf("%w: frame of %d bytes", ErrInvalidPacket, rest)
		}
	case 1:
		frames = 2
		if rest%2 != 0 {
			return 0, fmt.Errorf("%w: two equal frames in %d bytes", ErrInvalidPacket, rest)
		}
		if rest/2 > maxFrameBytes {
			return 0, fmt.Errorf("%w: frame of %d bytes", ErrInvalidPacket, rest/2)
		}
	case 2:
		frames = 2
		n1, used, err := frameLength(pkt[1:])
		if err != nil {
			return 0, err
		}
		rest -= used
		if n1 > rest || n1 > maxFrameBytes || rest-n1 > maxFrameBytes {
			return 0, fmt.Errorf("%w: frame lengths %d of %d bytes", ErrInvalidPacket, n1, rest)
		}
	case 3:
		if rest < 1 {
			return 0, fmt.Errorf("%w: frame count byte missing", ErrInvalidPacket)
		}
		fc := pkt[1]
		frames = int(fc & 0x3f)
		if frames == 0 {
			return 0, fmt.Errorf("%w: zero frames", ErrInvalidPacket)
		}
		if frames*per > maxPacketSamples48 {
			return 0, fmt.Errorf("%w: %d frames exceed 120 ms", ErrInvalidPacket, frames)
		}
		pos := 2
		rest--
		if fc&0x40 != 0 { // padding
			padding := 0
			for {
				if pos >= len(pkt) {
					return 0, fmt.Errorf("%w: padding length truncated", ErrInvalidPacket)
				}
				b := int(pkt[pos])
				pos++
				rest--
				if b == 255 {
					padding += 254
					continue
				}
				padding += b
				break
			}
			if padding > rest {
				return 0, fmt.Errorf("%w: padding %d exceeds %d bytes", ErrInvalidPacket, padding, rest)
			}
			rest -= padding
		}
		if fc&0x80 != 0 { // VBR: M-1 coded lengths, the last takes the rest
			for i := 0; i < frames-1; i++ {
				n, used, err := frameLength(pkt[pos:])
				if err != nil {
					return 0, err
				}
				pos += used
				rest -= used
				if rest < 0 || n > rest || n > maxFrameBytes {
					return 0, fmt.Errorf("%w: frame %d of %d bytes overruns packet", ErrInvalidPacket, i, n)
				}
				rest -= n
			}
			if rest < 0 || rest > maxFrameBytes {
				return 0, fmt.Errorf("%w: last frame of %d bytes", ErrInvalidPacket, rest)
			}
		} else { // CBR
			if rest%frames != 0 || rest/frames > maxFrameBytes {
				return 0, fmt.Errorf("%w: %d bytes do not split into %d frames", ErrInvalidPacket, rest, frames)
			}
		}
	}
	return frames * per * rate / 48000, nil
}
