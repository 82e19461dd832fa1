package kfwd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Netlink and ctnetlink numbers (linux/netlink.h, linux/netfilter/
// nfnetlink.h, nfnetlink_conntrack.h).
const (
	netlinkNetfilter = 12 // NETLINK_NETFILTER

	nlmsgHdrLen = 16
	nlmsgError  = 2
	nlmsgDone   = 3

	flagRequest = 0x1
	flagMulti   = 0x2
	flagAck     = 0x4
	flagExcl    = 0x200
	flagCreate  = 0x400
	flagDump    = 0x300

	subsysCTNetlink = 1
	msgCTNew        = 0
	msgCTGet        = 1
	msgCTDelete     = 2

	nlaNested = 0x8000

	ctaTupleOrig     = 1
	ctaTupleReply    = 2
	ctaStatus        = 3
	ctaNATSrc        = 6
	ctaTimeout       = 7
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaNATDst        = 13

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaIPv4Src    = 1
	ctaIPv4Dst    = 2
	ctaIPv6Src    = 3
	ctaIPv6Dst    = 4
	ctaProtoNum   = 1
	ctaProtoSrc   = 2
	ctaProtoDst   = 3

	ctaNATv4Min   = 1
	ctaNATv4Max   = 2
	ctaNATProto   = 3
	ctaNATv6Min   = 4
	ctaNATv6Max   = 5
	ctaNATPortMin = 1
	ctaNATPortMax = 2

	ctaCountersPackets = 1
	ctaCountersBytes   = 2

	ipprotoUDP = 17
	afInet     = 2
	afInet6    = 10
)

// Conntrack status bits (IPS_*).
const (
	StatusSeenReply = 1 << 1
	StatusAssured   = 1 << 2
	StatusSrcNAT    = 1 << 4
	StatusDstNAT    = 1 << 5
)

// Errors of this package.
var (
	// ErrFamily: the addresses of a flow are not all IPv4 or all IPv6.
	ErrFamily = errors.New("kfwd: mixed or invalid address families")
	// ErrShort: a message from the kernel is truncated.
	ErrShort = errors.New("kfwd: truncated netlink message")
)

// Tuple is one direction of a UDP conversation as conntrack sees it.
type Tuple struct {
	Src, Dst netip.AddrPort
}

func (t Tuple) String() string { return t.Src.String() + "->" + t.Dst.String() }

// family returns AF_INET or AF_INET6 for t, or 0 when it mixes them.
func (t Tuple) family() uint8 {
	s, d := t.Src.Addr().Unmap(), t.Dst.Addr().Unmap()
	switch {
	case s.Is4() && d.Is4():
		return afInet
	case s.Is6() && d.Is6():
		return afInet6
	}
	return 0
}

// Flow is one kernel-forwarded stream: packets matching Orig get their
// destination rewritten to DNAT and their source to SNAT; the answers
// (DNAT -> SNAT) are translated back (Orig.Dst -> Orig.Src).
type Flow struct {
	Orig Tuple
	// DNAT is the second peer's address, SNAT our port facing it.
	DNAT, SNAT netip.AddrPort
	// Timeout is the entry's initial lifetime in seconds; every packet
	// renews it with the kernel's UDP stream timeout.
	Timeout uint32
}

// Reply is the tuple the second peer's packets carry.
func (f Flow) Reply() Tuple { return Tuple{Src: f.DNAT, Dst: f.SNAT} }

func (f Flow) family() uint8 {
	a, b := f.Orig.family(), Tuple{Src: f.DNAT, Dst: f.SNAT}.family()
	if a != b {
		return 0
	}
	return a
}

// Counters are the kernel's packet and byte counts of one direction
// (bytes include the IP and UDP headers).
type Counters struct {
	Packets, Bytes uint64
}

// Entry is a conntrack entry as read from the kernel.
type Entry struct {
	Orig, Reply       Tuple
	Status            uint32
	Timeout           uint32
	OrigCnt, ReplyCnt Counters
	// HasCounters is false when the kernel keeps no accounting
	// (nf_conntrack_acct off when the entry was made).
	HasCounters bool
}

// builder appends netlink attributes to a message.
type builder struct {
	b     []byte
	nests []int
}

func (w *builder) attr(typ uint16, v []byte) {
	n := 4 + len(v)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(n))
	w.b = binary.LittleEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, v...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *builder) u8(typ uint16, v uint8) { w.attr(typ, []byte{v}) }
func (w *builder) be16(typ uint16, v uint16) {
	w.attr(typ, binary.BigEndian.AppendUint16(nil, v))
}
func (w *builder) be32(typ uint16, v uint32) {
	w.attr(typ, binary.BigEndian.AppendUint32(nil, v))
}

func (w *builder) begin(typ uint16) {
	w.nests = append(w.nests, len(w.b))
	w.b = binary.LittleEndian.AppendUint16(w.b, 0)
	w.b = binary.LittleEndian.AppendUint16(w.b, typ|nlaNested)
}

func (w *builder) end() {
	at := w.nests[len(w.nests)-1]
	w.nests = w.nests[:len(w.nests)-1]
	binary.LittleEndian.PutUint16(w.b[at:], uint16(len(w.b)-at))
}

func (w *builder) tuple(typ uint16, t Tuple) {
	w.begin(typ)
	w.begin(ctaTupleIP)
	if t.family() == afInet {
		s, d := t.Src.Addr().Unmap().As4(), t.Dst.Addr().Unmap().As4()
		w.attr(ctaIPv4Src, s[:])
		w.attr(ctaIPv4Dst, d[:])
	} else {
		s, d := t.Src.Addr().As16(), t.Dst.Addr().As16()
		w.attr(ctaIPv6Src, s[:])
		w.attr(ctaIPv6Dst, d[:])
	}
	w.end()
	w.begin(ctaTupleProto)
	w.u8(ctaProtoNum, ipprotoUDP)
	w.be16(ctaProtoSrc, t.Src.Port())
	w.be16(ctaProtoDst, t.Dst.Port())
	w.end()
	w.end()
}

func (w *builder) nat(typ uint16, a netip.AddrPort, family uint8) {
	w.begin(typ)
	if family == afInet {
		v := a.Addr().Unmap().As4()
		w.attr(ctaNATv4Min, v[:])
		w.attr(ctaNATv4Max, v[:])
	} else {
		v := a.Addr().As16()
		w.attr(ctaNATv6Min, v[:])
		w.attr(ctaNATv6Max, v[:])
	}
	w.begin(ctaNATProto)
	w.be16(ctaNATPortMin, a.Port())
	w.be16(ctaNATPortMax, a.Port())
	w.end()
	w.end()
}

// header starts a ctnetlink message; finish sets its length.
func header(msg uint8, flags uint16, seq uint32, family uint8) *builder {
	w := &builder{b: make([]byte, 0, 256)}
	w.b = binary.LittleEndian.AppendUint32(w.b, 0) // length, set by finish
	w.b = binary.LittleEndian.AppendUint16(w.b, subsysCTNetlink<<8|uint16(msg))
	w.b = binary.LittleEndian.AppendUint16(w.b, flags)
	w.b = binary.LittleEndian.AppendUint32(w.b, seq)
	w.b = binary.LittleEndian.AppendUint32(w.b, 0) // port id: the kernel fills it
	// struct nfgenmsg: family, version (NFNETLINK_V0), resource id (BE)
	w.b = append(w.b, family, 0, 0, 0)
	return w
}

func (w *builder) finish() []byte {
	binary.LittleEndian.PutUint32(w.b, uint32(len(w.b)))
	return w.b
}

// EncodeCreate builds the IPCTNL_MSG_CT_NEW request that makes f's entry
// (failing with EEXIST when either of its tuples is tracked already).
func EncodeCreate(seq uint32, f Flow) ([]byte, error) {
	fam := f.family()
	if fam == 0 || !f.Orig.Src.IsValid() || !f.DNAT.IsValid() {
		return nil, fmt.Errorf("%w: %s dnat %s snat %s", ErrFamily, f.Orig, f.DNAT, f.SNAT)
	}
	w := header(msgCTNew, flagRequest|flagAck|flagCreate|flagExcl, seq, fam)
	w.tuple(ctaTupleOrig, f.Orig)
	// The kernel wants both tuples; the reply tuple is the inverse of
	// the original before NAT, and the NAT set-up rewrites it.
	w.tuple(ctaTupleReply, Tuple{Src: f.Orig.Dst, Dst: f.Orig.Src})
	w.nat(ctaNATDst, f.DNAT, fam)
	w.nat(ctaNATSrc, f.SNAT, fam)
	w.be32(ctaTimeout, f.Timeout)
	return w.finish(), nil
}

// EncodeDelete builds the IPCTNL_MSG_CT_DELETE request for the entry
// whose original (reply=false) or reply tuple is t.
func EncodeDelete(seq uint32, t Tuple, reply bool) ([]byte, error) {
	return encodeTuple(msgCTDelete, flagRequest|flagAck, seq, t, reply)
}

// EncodeGet builds the IPCTNL_MSG_CT_GET request for the entry whose
// original tuple is t.
func EncodeGet(seq uint32, t Tuple) ([]byte, error) {
	return encodeTuple(msgCTGet, flagRequest|flagAck, seq, t, false)
}

func encodeTuple(msg uint8, flags uint16, seq uint32, t Tuple, reply bool) ([]byte, error) {
	fam := t.family()
	if fam == 0 {
		return nil, fmt.Errorf("%w: %s", ErrFamily, t)
	}
	w := header(msg, flags, seq, fam)
	typ := uint16(ctaTupleOrig)
	if reply {
		typ = ctaTupleReply
	}
	w.tuple(typ, t)
	return w.finish(), nil
}

// EncodeDump builds the request that lists every entry of a family
// (AF_INET = 2, AF_INET6 = 10).
func EncodeDump(seq uint32, family uint8) []byte {
	return header(msgCTGet, flagRequest|flagDump, seq, family).finish()
}

// attrs walks the attributes in b, calling fn with each type (nested
// flag cleared) and value.
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:]) &^ (nlaNested | 0x4000)
		if n < 4 || n > len(b) {
			return ErrShort
		}
		if err := fn(typ, b[4:n]); err != nil {
			return err
		}
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return nil
}

func parseTuple(b []byte) (Tuple, error) {
	var t Tuple
	var src, dst netip.Addr
	var sp, dp uint16
	var proto uint8
	err := attrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case ctaTupleIP:
			return attrs(v, func(typ uint16, v []byte) error {
				switch {
				case (typ == ctaIPv4Src || typ == ctaIPv4Dst) && len(v) == 4:
					a := netip.AddrFrom4([4]byte(v))
					if typ == ctaIPv4Src {
						src = a
					} else {
						dst = a
					}
				case (typ == ctaIPv6Src || typ == ctaIPv6Dst) && len(v) == 16:
					a := netip.AddrFrom16([16]byte(v))
					if typ == ctaIPv6Src {
						src = a
					} else {
						dst = a
					}
				}
				return nil
			})
		case ctaTupleProto:
			return attrs(v, func(typ uint16, v []byte) error {
				switch {
				case typ == ctaProtoNum && len(v) >= 1:
					proto = v[0]
				case typ == ctaProtoSrc && len(v) == 2:
					sp = binary.BigEndian.Uint16(v)
				case typ == ctaProtoDst && len(v) == 2:
					dp = binary.BigEndian.Uint16(v)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	if proto != ipprotoUDP {
		return Tuple{}, nil // not ours: left zero
	}
	t.Src, t.Dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return t, nil
}

func parseCounters(b []byte) (Counters, error) {
	var c Counters
	err := attrs(b, func(typ uint16, v []byte) error {
		if len(v) != 8 {
			return nil
		}
		switch typ {
		case ctaCountersPackets:
			c.Packets = binary.BigEndian.Uint64(v)
		case ctaCountersBytes:
			c.Bytes = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return c, err
}

// ParseEntry reads the payload of a ctnetlink entry message (what
// follows the 16-byte netlink header: nfgenmsg and attributes). A
// non-UDP entry comes back with zero tuples.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < 4 {
		return e, ErrShort
	}
	err := attrs(b[4:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case ctaTupleOrig:
			e.Orig, err = parseTuple(v)
		case ctaTupleReply:
			e.Reply, err = parseTuple(v)
		case ctaStatus:
			if len(v) == 4 {
				e.Status = binary.BigEndian.Uint32(v)
			}
		case ctaTimeout:
			if len(v) == 4 {
				e.Timeout = binary.BigEndian.Uint32(v)
			}
		case ctaCountersOrig:
			e.OrigCnt, err = parseCounters(v)
			e.HasCounters = true
		case ctaCountersReply:
			e.ReplyCnt, err = parseCounters(v)
			e.HasCounters = true
		}
		return err
	})
	return e, err
}

// message is one netlink message of a reply datagram.
type message struct {
	typ   uint16
	flags uint16
	seq   uint32
	body  []byte
}

// splitMessages cuts a datagram from the kernel into messages.
func splitMessages(b []byte) ([]message, error) {
	var out []message
	for len(b) >= nlmsgHdrLen {
		n := int(binary.LittleEndian.Uint32(b))
		if n < nlmsgHdrLen || n > len(b) {
			return out, ErrShort
		}
		out = append(out, message{
			typ:   binary.LittleEndian.Uint16(b[4:]),
			flags: binary.LittleEndian.Uint16(b[6:]),
			seq:   binary.LittleEndian.Uint32(b[8:]),
			body:  b[nlmsgHdrLen:n],
		})
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return out, nil
}

// errnoOf reads an NLMSG_ERROR body: 0 for an ack, else a positive errno.
func errnoOf(body []byte) (int32, error) {
	if len(body) < 4 {
		return 0, ErrShort
	}
	return -int32(binary.LittleEndian.Uint32(body)), nil
}
