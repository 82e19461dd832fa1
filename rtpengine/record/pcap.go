package record

import (
	"bufio"
	"encoding/binary"
	"net/netip"
	"time"
)

// linkTypeRaw is LINKTYPE_RAW: each record starts with an IPv4 or IPv6 header.
const linkTypeRaw = 101

func writePcapHeader(w *bufio.Writer) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond timestamps
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], linkTypeRaw)
	_, _ = w.Write(h[:])
}

// writePcapPacket writes payload as a UDP datagram from src to dst.
func writePcapPacket(w *bufio.Writer, at time.Time, src, dst netip.AddrPort, payload []byte) {
	v4 := src.Addr().Is4() && dst.Addr().Is4()
	ipLen := 40
	if v4 {
		ipLen = 20
	}
	n := ipLen + 8 + len(payload)
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(at.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(at.Nanosecond()))
	binary.LittleEndian.PutUint32(rec[8:], uint32(n))
	binary.LittleEndian.PutUint32(rec[12:], uint32(n))
	_, _ = w.Write(rec[:])
	var hdr [48]byte
	ip := hdr[:ipLen]
	s16, d16 := src.Addr().As16(), dst.Addr().As16()
	if v4 {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(n))
		ip[8] = 64
		ip[9] = 17
		s4, d4 := src.Addr().As4(), dst.Addr().As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		binary.BigEndian.PutUint16(ip[10:], ^sum(0, ip))
	} else {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(8+len(payload)))
		ip[6] = 17
		ip[7] = 64
		copy(ip[8:], s16[:])
		copy(ip[24:], d16[:])
	}
	udp := hdr[ipLen : ipLen+8]
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	if !v4 {
		// IPv6 needs the UDP checksum (pseudo-header, header, payload).
		var ph [40]byte
		copy(ph[0:], s16[:])
		copy(ph[16:], d16[:])
		binary.BigEndian.PutUint32(ph[32:], uint32(8+len(payload)))
		ph[39] = 17
		c := ^sum(sum(sum(0, ph[:]), udp), payload)
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], c)
	}
	_, _ = w.Write(hdr[:ipLen+8])
	_, _ = w.Write(payload)
}

// sum is the ones' complement sum of b added to s (RFC 1071), folded.
func sum(s uint16, b []byte) uint16 {
	acc := uint32(s)
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
