package hep

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// ProtoType is the HEP "protocol type" chunk: what the payload is.
type ProtoType uint8

// Protocol types sbcd sends (values from the HEPv3 specification).
const (
	ProtoSIP  ProtoType = 1
	ProtoRTP  ProtoType = 4
	ProtoRTCP ProtoType = 5
	ProtoLog  ProtoType = 100
)

// IP protocol numbers for Packet.Transport.
const (
	TransportTCP uint8 = 6
	TransportUDP uint8 = 17
)

// Chunk type ids of the generic vendor (0).
const (
	chunkFamily      = 0x0001
	chunkProto       = 0x0002
	chunkSrcIPv4     = 0x0003
	chunkDstIPv4     = 0x0004
	chunkSrcIPv6     = 0x0005
	chunkDstIPv6     = 0x0006
	chunkSrcPort     = 0x0007
	chunkDstPort     = 0x0008
	chunkTimeSec     = 0x0009
	chunkTimeUsec    = 0x000a
	chunkProtoType   = 0x000b
	chunkAgentID     = 0x000c
	chunkAuthKey     = 0x000e
	chunkPayload     = 0x000f
	chunkCorrelation = 0x0011
)

const (
	headerLen      = 6 // "HEP3" + total length
	chunkHeaderLen = 6 // vendor + type + length
	maxPacketLen   = 0xffff

	familyIPv4 = 2
	familyIPv6 = 10
)

var magic = [4]byte{'H', 'E', 'P', '3'}

// Packet is one captured message with its envelope.
type Packet struct {
	// Src and Dst are the addresses the payload travelled from and to.
	// Both must be valid and of the same family (IPv4-mapped IPv6 counts
	// as IPv4).
	Src, Dst netip.AddrPort
	// Transport is the IP protocol: TransportUDP (17) or TransportTCP (6).
	// TLS and WebSocket carry SIP over TCP. Zero is sent as UDP.
	Transport uint8
	// Time is when the payload was received or sent; sent with
	// microsecond resolution.
	Time time.Time
	// Type says what Payload is (ProtoSIP, ProtoRTCP, ...).
	Type ProtoType
	// AgentID identifies the capturing node to the collector.
	AgentID uint32
	// Password is the collector's auth key; omitted when empty.
	Password string
	// CorrelationID ties packets of one call together; for SIP and RTCP
	// it is the Call-ID. Omitted when empty.
	CorrelationID string
	// Payload is the message itself. After Decode it aliases the decoded
	// buffer.
	Payload []byte
}

// EncodedLen returns the length Append will add for p, without checking
// the addresses.
func EncodedLen(p *Packet) int {
	n := headerLen
	n += chunkHeaderLen + 1 // family
	n += chunkHeaderLen + 1 // proto
	if p.Src.Addr().Unmap().Is4() {
		n += 2 * (chunkHeaderLen + 4)
	} else {
		n += 2 * (chunkHeaderLen + 16)
	}
	n += 2 * (chunkHeaderLen + 2) // ports
	n += 2 * (chunkHeaderLen + 4) // time
	n += chunkHeaderLen + 1       // proto type
	n += chunkHeaderLen + 4       // agent id
	if p.Password != "" {
		n += chunkHeaderLen + len(p.Password)
	}
	if p.CorrelationID != "" {
		n += chunkHeaderLen + len(p.CorrelationID)
	}
	n += chunkHeaderLen + len(p.Payload)
	return n
}

// Append encodes p as HEPv3 and appends it to dst. It allocates only when
// dst lacks the capacity.
func Append(dst []byte, p *Packet) ([]byte, error) {
	src, dstAddr := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
	if !src.IsValid() || !dstAddr.IsValid() || src.Is4() != dstAddr.Is4() {
		return dst, fmt.Errorf("%w: %v -> %v", ErrAddress, p.Src, p.Dst)
	}
	total := EncodedLen(p)
	if total > maxPacketLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrTooLarge, total)
	}
	start := len(dst)
	dst = append(dst, magic[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(total))

	family := uint8(familyIPv6)
	if src.Is4() {
		family = familyIPv4
	}
	dst = appendU8(dst, chunkFamily, family)
	transport := p.Transport
	if transport == 0 {
		transport = TransportUDP
	}
	dst = appendU8(dst, chunkProto, transport)
	if src.Is4() {
		s, d := src.As4(), dstAddr.As4()
		dst = appendBytes(dst, chunkSrcIPv4, s[:])
		dst = appendBytes(dst, chunkDstIPv4, d[:])
	} else {
		s, d := src.As16(), dstAddr.As16()
		dst = appendBytes(dst, chunkSrcIPv6, s[:])
		dst = appendBytes(dst, chunkDstIPv6, d[:])
	}
	dst = appendU16(dst, chunkSrcPort, p.Src.Port())
	dst = appendU16(dst, chunkDstPort, p.Dst.Port())
	dst = appendU32(dst, chunkTimeSec, uint32(p.Time.Unix()))
	dst = appendU32(dst, chunkTimeUsec, uint32(p.Time.Nanosecond()/1000))
	dst = appendU8(dst, chunkProtoType, uint8(p.Type))
	dst = appendU32(dst, chunkAgentID, p.AgentID)
	if p.Password != "" {
		dst = appendString(dst, chunkAuthKey, p.Password)
	}
	if p.CorrelationID != "" {
		dst = appendString(dst, chunkCorrelation, p.CorrelationID)
	}
	dst = appendBytes(dst, chunkPayload, p.Payload)
	if len(dst)-start != total {
		// EncodedLen and the chunks above disagree: a bug, not bad input.
		return dst[:start], fmt.Errorf("%w: encoded %d bytes, expected %d", ErrLength, len(dst)-start, total)
	}
	return dst, nil
}

func appendChunkHeader(dst []byte, typ uint16, valueLen int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, typ)
	return binary.BigEndian.AppendUint16(dst, uint16(chunkHeaderLen+valueLen))
}

func appendU8(dst []byte, typ uint16, v uint8) []byte {
	return append(appendChunkHeader(dst, typ, 1), v)
}

func appendU16(dst []byte, typ uint16, v uint16) []byte {
	return binary.BigEndian.AppendUint16(appendChunkHeader(dst, typ, 2), v)
}

func appendU32(dst []byte, typ uint16, v uint32) []byte {
	return binary.BigEndian.AppendUint32(appendChunkHeader(dst, typ, 4), v)
}

func appendBytes(dst []byte, typ uint16, v []byte) []byte {
	return append(appendChunkHeader(dst, typ, len(v)), v...)
}

func appendString(dst []byte, typ uint16, v string) []byte {
	return append(appendChunkHeader(dst, typ, len(v)), v...)
}

// PacketLength returns the total length of the HEPv3 packet at the start
// of b, for framing packets read from a stream. It needs only the 6-byte
// header.
func PacketLength(b []byte) (int, error) {
	if len(b) < headerLen {
		return 0, fmt.Errorf("%w: %d bytes, header needs %d", ErrShort, len(b), headerLen)
	}
	if [4]byte(b[:4]) != magic {
		return 0, ErrMagic
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n < headerLen {
		return 0, fmt.Errorf("%w: total length %d", ErrLength, n)
	}
	return n, nil
}

// Decode parses one HEPv3 packet that fills b exactly. Chunks of other
// vendors and unknown generic chunks are skipped. The returned Payload
// aliases b.
func Decode(b []byte) (Packet, error) {
	var p Packet
	total, err := PacketLength(b)
	if err != nil {
		return p, err
	}
	if total != len(b) {
		return p, fmt.Errorf("%w: header says %d bytes, have %d", ErrLength, total, len(b))
	}
	var (
		family             uint8
		src4, dst4         netip.Addr
		src6, dst6         netip.Addr
		srcPort, dstPort   uint16
		sec, usec          uint32
		haveTime, havePay  bool
		haveFamily, haveTr bool
	)
	rest := b[headerLen:]
	for len(rest) > 0 {
		if len(rest) < chunkHeaderLen {
			return p, fmt.Errorf("%w: %d bytes left, chunk header needs %d", ErrShort, len(rest), chunkHeaderLen)
		}
		vendor := binary.BigEndian.Uint16(rest[0:2])
		typ := binary.BigEndian.Uint16(rest[2:4])
		clen := int(binary.BigEndian.Uint16(rest[4:6]))
		if clen < chunkHeaderLen {
			return p, fmt.Errorf("%w: chunk 0x%04x length %d", ErrLength, typ, clen)
		}
		if clen > len(rest) {
			return p, fmt.Errorf("%w: chunk 0x%04x length %d, %d bytes left", ErrShort, typ, clen, len(rest))
		}
		v := rest[chunkHeaderLen:clen]
		rest = rest[clen:]
		if vendor != 0 {
			continue
		}
		switch typ {
		case chunkFamily:
			if err := wantLen(typ, v, 1); err != nil {
				return p, err
			}
			family, haveFamily = v[0], true
		case chunkProto:
			if err := wantLen(typ, v, 1); err != nil {
				return p, err
			}
			p.Transport, haveTr = v[0], true
		case chunkSrcIPv4, chunkDstIPv4:
			if err := wantLen(typ, v, 4); err != nil {
				return p, err
			}
			if typ == chunkSrcIPv4 {
				src4 = netip.AddrFrom4([4]byte(v))
			} else {
				dst4 = netip.AddrFrom4([4]byte(v))
			}
		case chunkSrcIPv6, chunkDstIPv6:
			if err := wantLen(typ, v, 16); err != nil {
				return p, err
			}
			if typ == chunkSrcIPv6 {
				src6 = netip.AddrFrom16([16]byte(v))
			} else {
				dst6 = netip.AddrFrom16([16]byte(v))
			}
		case chunkSrcPort, chunkDstPort:
			if err := wantLen(typ, v, 2); err != nil {
				return p, err
			}
			if typ == chunkSrcPort {
				srcPort = binary.BigEndian.Uint16(v)
			} else {
				dstPort = binary.BigEndian.Uint16(v)
			}
		case chunkTimeSec, chunkTimeUsec:
			if err := wantLen(typ, v, 4); err != nil {
				return p, err
			}
			if typ == chunkTimeSec {
				sec, haveTime = binary.BigEndian.Uint32(v), true
			} else {
				usec = binary.BigEndian.Uint32(v)
			}
		case chunkProtoType:
			if err := wantLen(typ, v, 1); err != nil {
				return p, err
			}
			p.Type = ProtoType(v[0])
		case chunkAgentID:
			if err := wantLen(typ, v, 4); err != nil {
				return p, err
			}
			p.AgentID = binary.BigEndian.Uint32(v)
		case chunkAuthKey:
			p.Password = string(v)
		case chunkCorrelation:
			p.CorrelationID = string(v)
		case chunkPayload:
			p.Payload, havePay = v, true
		}
	}
	switch {
	case !haveFamily:
		return p, fmt.Errorf("%w: IP family", ErrMissing)
	case !haveTr:
		return p, fmt.Errorf("%w: IP protocol", ErrMissing)
	case !havePay:
		return p, fmt.Errorf("%w: payload", ErrMissing)
	case !haveTime:
		return p, fmt.Errorf("%w: timestamp", ErrMissing)
	}
	var src, dst netip.Addr
	switch family {
	case familyIPv4:
		if !src4.IsValid() || !dst4.IsValid() {
			return p, fmt.Errorf("%w: IPv4 source or destination", ErrMissing)
		}
		src, dst = src4, dst4
	case familyIPv6:
		if !src6.IsValid() || !dst6.IsValid() {
			return p, fmt.Errorf("%w: IPv6 source or destination", ErrMissing)
		}
		src, dst = src6, dst6
	default:
		return p, fmt.Errorf("%w: IP family %d", ErrChunk, family)
	}
	if usec >= 1_000_000 {
		return p, fmt.Errorf("%w: %d microseconds", ErrChunk, usec)
	}
	p.Src = netip.AddrPortFrom(src, srcPort)
	p.Dst = netip.AddrPortFrom(dst, dstPort)
	p.Time = time.Unix(int64(sec), int64(usec)*1000)
	return p, nil
}

func wantLen(typ uint16, v []byte, n int) error {
	if len(v) != n {
		return fmt.Errorf("%w: chunk 0x%04x has %d value bytes, want %d", ErrChunk, typ, len(v), n)
	}
	return nil
}
