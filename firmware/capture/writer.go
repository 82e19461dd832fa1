package capture

import (
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// tcpSegment is the largest TCP payload per synthesised segment; longer
// messages are split as a real sender with a 1500-byte MTU would.
const tcpSegment = 1448

// maxFlows bounds the TCP flow table of one file; past it the table starts
// again (sequence numbers of old flows restart, which tshark tolerates).
const maxFlows = 4096

// WriterOptions configures a Writer. The zero value writes Ethernet frames
// and no section comment.
type WriterOptions struct {
	// RawIP writes packets without an Ethernet header (link type "raw IP").
	// Default false: Ethernet with locally administered MAC addresses.
	RawIP bool
	// Comment is the section header comment: what this file captures.
	Comment string
}

// Writer writes Records as synthetic packets to a PCAPNG stream. It is not
// safe for concurrent use.
type Writer struct {
	ng    *pcapgo.NgWriter
	out   *countingWriter
	raw   bool
	buf   gopacket.SerializeBuffer
	eth   layers.Ethernet
	ip4   layers.IPv4
	ip6   layers.IPv6
	udp   layers.UDP
	tcp   layers.TCP
	ipID  uint16
	flows map[flowKey]uint32 // next sequence number per direction
	seed  maphash.Seed
	note  []byte
	opts  pcapgo.NgPacketOptions
	flags pcapgo.NgEpbFlags
	cmt   [1]string

	packets int64
}

// countingWriter counts the bytes that reach the underlying writer.
// Its count may be read from other goroutines.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

type flowKey struct{ src, dst netip.AddrPort }

var (
	macLocal  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	macRemote = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// NewWriter writes the PCAPNG section header and interface description to
// w and returns a Writer for the packets.
func NewWriter(w io.Writer, o WriterOptions) (*Writer, error) {
	link := layers.LinkTypeEthernet
	if o.RawIP {
		link = layers.LinkTypeRaw
	}
	intf := pcapgo.NgInterface{
		Name:                "sbcd",
		Description:         "messages sent and received by sbcd",
		OS:                  runtime.GOOS,
		LinkType:            link,
		TimestampResolution: 9,
	}
	cw := &countingWriter{w: w}
	ng, err := pcapgo.NewNgWriterInterface(cw, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Application: "OpenBorder sbcd",
		OS:          runtime.GOOS,
		Hardware:    runtime.GOARCH,
		Comment:     o.Comment,
	}})
	if err != nil {
		return nil, fmt.Errorf("capture: pcapng header: %w", err)
	}
	wr := &Writer{
		ng:    ng,
		out:   cw,
		raw:   o.RawIP,
		buf:   gopacket.NewSerializeBufferExpectedSize(64, 1500),
		flows: make(map[flowKey]uint32),
		seed:  maphash.MakeSeed(),
		note:  make([]byte, 0, 128),
	}
	wr.ip4 = layers.IPv4{Version: 4, TTL: 64, Flags: layers.IPv4DontFragment}
	wr.ip6 = layers.IPv6{Version: 6, HopLimit: 64}
	wr.opts.Flags = &wr.flags
	return wr, nil
}

// Packets returns the number of packets written.
func (w *Writer) Packets() int64 { return w.packets }

// Bytes returns the number of bytes that reached the underlying writer.
// The Writer buffers up to 4 KiB; Flush first for the exact size. Unlike
// the other methods, Bytes may be called from any goroutine.
func (w *Writer) Bytes() int64 { return w.out.n.Load() }

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.ng.Flush() }

// Write writes r as one UDP datagram or, for stream transports, as one or
// more TCP segments.
func (w *Writer) Write(r *Record) error {
	if len(r.Payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(r.Payload))
	}
	src, dst := r.endpoints()
	sa, da, err := sameFamily(src.Addr(), dst.Addr())
	if err != nil {
		return err
	}
	src, dst = netip.AddrPortFrom(sa, src.Port()), netip.AddrPortFrom(da, dst.Port())
	w.comment(r)
	if r.Transport.stream() {
		return w.writeTCP(r, src, dst)
	}
	return w.writeOne(r, src, dst, r.Payload, nil)
}

func (w *Writer) writeTCP(r *Record, src, dst netip.AddrPort) error {
	seq := w.seq(src, dst)
	ack := w.seq(dst, src)
	p := r.Payload
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), tcpSegment)
		w.tcp = layers.TCP{
			SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
			Seq: seq, Ack: ack, ACK: true, PSH: n == len(p), Window: 65535,
		}
		if err := w.writeOne(r, src, dst, p[:n], &w.tcp); err != nil {
			return err
		}
		seq += uint32(n)
		p = p[n:]
	}
	w.flows[flowKey{src, dst}] = seq
	return nil
}

// seq returns the next sequence number of the flow src→dst, choosing a
// stable initial one for a new flow.
func (w *Writer) seq(src, dst netip.AddrPort) uint32 {
	k := flowKey{src, dst}
	if s, ok := w.flows[k]; ok {
		return s
	}
	if len(w.flows) >= maxFlows {
		clear(w.flows)
	}
	s := uint32(maphash.Comparable(w.seed, k))
	w.flows[k] = s
	return s
}

func (w *Writer) writeOne(r *Record, src, dst netip.AddrPort, payload []byte, tcp *layers.TCP) error {
	if err := w.buf.Clear(); err != nil {
		return err
	}
	var (
		ls  [4]gopacket.SerializableLayer
		n   int
		net gopacket.NetworkLayer
	)
	if !w.raw {
		w.eth = layers.Ethernet{SrcMAC: macRemote, DstMAC: macLocal, EthernetType: layers.EthernetTypeIPv4}
		if r.Dir == Out {
			w.eth.SrcMAC, w.eth.DstMAC = macLocal, macRemote
		}
		if src.Addr().Is6() {
			w.eth.EthernetType = layers.EthernetTypeIPv6
		}
		ls[n] = &w.eth
		n++
	}
	proto := layers.IPProtocolUDP
	if tcp != nil {
		proto = layers.IPProtocolTCP
	}
	if src.Addr().Is4() {
		w.ipID++
		s, d := src.Addr().As4(), dst.Addr().As4()
		w.ip4.Id, w.ip4.Protocol = w.ipID, proto
		w.ip4.SrcIP, w.ip4.DstIP = s[:], d[:]
		ls[n], net = &w.ip4, &w.ip4
	} else {
		s, d := src.Addr().As16(), dst.Addr().As16()
		w.ip6.NextHeader = proto
		w.ip6.SrcIP, w.ip6.DstIP = s[:], d[:]
		ls[n], net = &w.ip6, &w.ip6
	}
	n++
	if tcp != nil {
		if err := tcp.SetNetworkLayerForChecksum(net); err != nil {
			return err
		}
		ls[n] = tcp
	} else {
		w.udp = layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		if err := w.udp.SetNetworkLayerForChecksum(net); err != nil {
			return err
		}
		ls[n] = &w.udp
	}
	n++
	ls[n] = gopacket.Payload(payload)
	n++
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, ls[:n]...); err != nil {
		return fmt.Errorf("capture: build packet: %w", err)
	}
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(data), Length: len(data)}
	if err := w.ng.WritePacketWithOptions(ci, data, w.opts); err != nil {
		return fmt.Errorf("capture: write packet: %w", err)
	}
	w.packets++
	return nil
}

// comment prepares the packet options of r: direction flag and a comment
// with realm, direction, transport, kind and call key.
func (w *Writer) comment(r *Record) {
	b := w.note[:0]
	b = append(b, "realm="...)
	b = append(b, r.Realm...)
	b = append(b, " dir="...)
	b = append(b, r.Dir.String()...)
	b = append(b, " transport="...)
	b = append(b, r.Transport.String()...)
	b = append(b, " kind="...)
	b = append(b, r.Kind.String()...)
	if r.CallKey != "" {
		b = append(b, " call="...)
		b = append(b, r.CallKey...)
	}
	w.note = b
	w.cmt[0] = string(b)
	w.opts.Comments = w.cmt[:]
	w.flags.Direction = pcapgo.NgEpbFlagDirectionInbound
	if r.Dir == Out {
		w.flags.Direction = pcapgo.NgEpbFlagDirectionOutbound
	}
}

// sameFamily returns both addresses in one family: IPv4 when both are
// IPv4 (or IPv4-mapped), else IPv6 with IPv4 mapped. An invalid address
// takes the unspecified address of the other's family.
func sameFamily(a, b netip.Addr) (netip.Addr, netip.Addr, error) {
	a, b = a.Unmap(), b.Unmap()
	switch {
	case !a.IsValid() && !b.IsValid():
		return a, b, fmt.Errorf("%w: no source or destination address", ErrAddress)
	case !a.IsValid():
		a = unspecified(b)
	case !b.IsValid():
		b = unspecified(a)
	}
	if a.Is4() != b.Is4() {
		a, b = netip.AddrFrom16(a.As16()), netip.AddrFrom16(b.As16())
	}
	return a, b, nil
}

func unspecified(like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
