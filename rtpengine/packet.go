package rtpengine

import "encoding/binary"

// packetKind is the class of a datagram by its first byte (RFC 7983).
type packetKind uint8

const (
	kindInvalid packetKind = iota // empty, truncated or malformed
	kindSTUN                      // 0-3
	kindDTLS                      // 20-63
	kindTURN                      // 64-79 (TURN ChannelData)
	kindRTP                       // 128-191, not an RTCP packet type
	kindRTCP                      // 128-191 with packet type 192-223 (RFC 5761)
	kindOther                     // anything else
)

func (k packetKind) String() string {
	switch k {
	case kindSTUN:
		return "stun"
	case kindDTLS:
		return "dtls"
	case kindTURN:
		return "turn"
	case kindRTP:
		return "rtp"
	case kindRTCP:
		return "rtcp"
	case kindOther:
		return "other"
	}
	return "invalid"
}

// rtpHeader is what the relay needs from a validated RTP header.
type rtpHeader struct {
	pt        uint8
	seq       uint16
	ts        uint32
	ssrc      uint32
	headerLen int
}

// demux classifies b and, for RTP and RTCP, validates it completely. An
// RTP or RTCP packet that fails validation is kindInvalid and must be
// dropped. It never reads beyond len(b) and never allocates.
func demux(b []byte, h *rtpHeader) packetKind {
	if len(b) == 0 {
		return kindInvalid
	}
	switch c := b[0]; {
	case c <= 3:
		return kindSTUN
	case c >= 20 && c <= 63:
		return kindDTLS
	case c >= 64 && c <= 79:
		return kindTURN
	case c >= 128 && c <= 191:
		if len(b) >= 2 && b[1] >= 192 && b[1] <= 223 {
			if validRTCP(b) {
				return kindRTCP
			}
			return kindInvalid
		}
		if parseRTP(b, h) {
			return kindRTP
		}
		return kindInvalid
	}
	return kindOther
}

// parseRTP validates an RTP packet (RFC 3550 5.1): version 2, fixed header,
// CSRC list, header extension and padding all inside the datagram, and a
// non-negative payload length.
func parseRTP(b []byte, h *rtpHeader) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	n := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < n+4 {
			return false
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(b[n+2:]))
	}
	if n > len(b) {
		return false
	}
	if b[0]&0x20 != 0 { // padding: last byte counts itself
		pad := int(b[len(b)-1])
		if pad == 0 || n+pad > len(b) {
			return false
		}
	}
	h.pt = b[1] & 0x7f
	h.seq = binary.BigEndian.Uint16(b[2:])
	h.ts = binary.BigEndian.Uint32(b[4:])
	h.ssrc = binary.BigEndian.Uint32(b[8:])
	h.headerLen = n
	return true
}

// validRTCP checks a compound RTCP packet: every part version 2 with a
// packet type in 192-223 and lengths that add up to the datagram exactly.
func validRTCP(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	for off := 0; off < len(b); {
		if len(b)-off < 4 || b[off]>>6 != 2 || b[off+1] < 192 || b[off+1] > 223 {
			return false
		}
		l := 4 * (int(binary.BigEndian.Uint16(b[off+2:])) + 1)
		if l > len(b)-off {
			return false
		}
		off += l
	}
	return true
}

// rtcpSenderSSRC returns the SSRC of the first part of a valid RTCP packet.
func rtcpSenderSSRC(b []byte) uint32 { return binary.BigEndian.Uint32(b[4:]) }

// rtcpInfo is what the stats take from a valid compound RTCP packet.
type rtcpInfo struct {
	srNTPMid uint32 // middle 32 bits of the NTP time of an SR; 0 if none
	lsr      uint32 // LSR of the first report block that has one
	dlsr     uint32 // its DLSR, 1/65536 s
	// xr is the VoIP metrics block of an RTCP XR packet (RFC 3611 4.7),
	// packed by packXR; 0 if none.
	xr uint64
	// rr is the first report block of an SR or RR (the sender's view of
	// the stream it receives), packed by packRR; 0 if none.
	rr uint64
}

// packRR packs a report block's cumulative number of packets lost (24
// bits, negative values as 0) and interarrival jitter (timestamp units)
// into one word for an atomic store; bit 63 marks a present report.
func packRR(rb []byte) uint64 {
	lost := uint64(binary.BigEndian.Uint32(rb[4:]) & 0xffffff)
	if lost&0x800000 != 0 {
		lost = 0 // negative: duplicates outnumber losses
	}
	return 1<<63 | lost<<32 | uint64(binary.BigEndian.Uint32(rb[12:]))
}

// unpackRR returns what packRR packed; ok is false for no report.
func unpackRR(v uint64) (lost uint64, jitter uint32, ok bool) {
	if v>>63 == 0 {
		return 0, 0, false
	}
	return (v >> 32) & 0xffffff, uint32(v), true
}

// packXR packs the VoIP metrics an endpoint keeps from RFC 3611 4.7 into
// one word for an atomic store: loss rate, discard rate (1/256), R factor,
// MOS-LQ and MOS-CQ (x10; 127 = unavailable), round-trip and end-system
// delay (ms). Bit 63 marks a present report.
func packXR(b []byte) uint64 {
	v := uint64(1) << 63
	v |= uint64(b[8]) << 48                                      // loss rate
	v |= uint64(b[9]) << 40                                      // discard rate
	v |= uint64(b[24]) << 32                                     // R factor
	v |= uint64(b[26]) << 24                                     // MOS-LQ
	v |= uint64(b[27]) << 16                                     // MOS-CQ
	v |= uint64(min(binary.BigEndian.Uint16(b[16:]), 0xff)) << 8 // RTT, capped
	v |= uint64(min(binary.BigEndian.Uint16(b[18:])/4, 0xff))    // end-system delay / 4 ms
	return v
}

// parseRTCPInfo extracts the sender report time and the first report block
// with a last-SR reference from a packet validRTCP accepted.
func parseRTCPInfo(b []byte) rtcpInfo {
	var ri rtcpInfo
	for off := 0; off+4 <= len(b); {
		l := 4 * (int(binary.BigEndian.Uint16(b[off+2:])) + 1)
		end := min(off+l, len(b))
		p := b[off:end]
		rc := int(p[0] & 0x1f)
		blocks := 0
		switch p[1] {
		case 200: // SR
			if len(p) >= 28 {
				ri.srNTPMid = binary.BigEndian.Uint32(p[10:])
				blocks = 28
			}
		case 201: // RR
			blocks = 8
		case 207: // XR: report blocks after the sender SSRC
			for q := 8; q+4 <= len(p); {
				bl := 4 * (int(binary.BigEndian.Uint16(p[q+2:])) + 1)
				if p[q] == 7 && bl == 36 && q+bl <= len(p) {
					ri.xr = packXR(p[q:])
				}
				q += bl
			}
		}
		if blocks > 0 && rc > 0 && ri.rr == 0 && blocks+24 <= len(p) {
			ri.rr = packRR(p[blocks:])
		}
		if blocks > 0 && ri.lsr == 0 {
			for i := 0; i < rc && blocks+24*(i+1) <= len(p); i++ {
				rb := p[blocks+24*i:]
				if lsr := binary.BigEndian.Uint32(rb[16:]); lsr != 0 {
					ri.lsr = lsr
					ri.dlsr = binary.BigEndian.Uint32(rb[20:])
					break
				}
			}
		}
		off += l
	}
	return ri
}
