package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// readBack is one packet of a PCAPNG file, decoded.
type readBack struct {
	pkt     gopacket.Packet
	comment string
	dir     pcapgo.NgEpbFlag
}

// readPcapng reads every packet of a PCAPNG stream and returns them with
// the section comment.
func readPcapng(t *testing.T, r io.Reader) ([]readBack, string) {
	t.Helper()
	ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var out []readBack
	for {
		data, _, opts, err := ng.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rb := readBack{pkt: gopacket.NewPacket(data, ng.LinkType(), gopacket.Default)}
		if len(opts.Comments) > 0 {
			rb.comment = opts.Comments[0]
		}
		if opts.Flags != nil {
			rb.dir = opts.Flags.Direction
		}
		out = append(out, rb)
	}
	return out, ng.SectionInfo().Comment
}

func readFile(t *testing.T, path string) ([]readBack, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readPcapng(t, f)
}

func TestWriterUDP(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Comment: "section note"})
	if err != nil {
		t.Fatal(err)
	}
	recs := sipCall(time.Unix(1795000000, 0), 2)[:3]
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Packets() != 3 || w.Bytes() != int64(buf.Len()) {
		t.Errorf("Packets %d Bytes %d, want 3 and %d", w.Packets(), w.Bytes(), buf.Len())
	}
	pkts, section := readPcapng(t, &buf)
	if section != "section note" {
		t.Errorf("section comment %q", section)
	}
	if len(pkts) != 3 {
		t.Fatalf("%d packets", len(pkts))
	}
	for i, p := range pkts {
		rec := recs[i]
		src, dst := rec.endpoints()
		ip, _ := p.pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		eth, _ := p.pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if ip == nil || udp == nil || eth == nil {
			t.Fatalf("packet %d: layers %v", i, p.pkt.Layers())
		}
		if ip.SrcIP.String() != src.Addr().String() || ip.DstIP.String() != dst.Addr().String() ||
			int(udp.SrcPort) != int(src.Port()) || int(udp.DstPort) != int(dst.Port()) {
			t.Errorf("packet %d: %v:%d -> %v:%d, want %v -> %v", i, ip.SrcIP, udp.SrcPort, ip.DstIP, udp.DstPort, src, dst)
		}
		if !bytes.Equal(udp.Payload, rec.Payload) {
			t.Errorf("packet %d: payload differs", i)
		}
		wantDir := pcapgo.NgEpbFlagDirectionInbound
		if rec.Dir == Out {
			wantDir = pcapgo.NgEpbFlagDirectionOutbound
		}
		if p.dir != wantDir {
			t.Errorf("packet %d: direction flag %v, want %v", i, p.dir, wantDir)
		}
		if p.comment == "" || !bytes.Contains([]byte(p.comment), []byte("realm="+rec.Realm)) {
			t.Errorf("packet %d: comment %q", i, p.comment)
		}
		if err := p.pkt.ErrorLayer(); err != nil {
			t.Errorf("packet %d: %v", i, err.Error())
		}
	}
}

func TestWriterTCPSequence(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{RawIP: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := tcpExchange(time.Unix(1795000000, 0)) // REGISTER in, 200 out, long INVITE in, 100 out
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	pkts, _ := readPcapng(t, &buf)
	if len(pkts) != 5 {
		t.Fatalf("%d packets, want 5 (the INVITE in two segments)", len(pkts))
	}
	type seg struct {
		in       bool
		seq, ack uint32
		n        int
		psh      bool
	}
	var segs []seg
	var inbound []byte
	for i, p := range pkts {
		tcp, _ := p.pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("packet %d: no TCP layer: %v", i, p.pkt.Layers())
		}
		in := tcp.DstPort == 5060
		segs = append(segs, seg{in, tcp.Seq, tcp.Ack, len(tcp.Payload), tcp.PSH})
		if in {
			inbound = append(inbound, tcp.Payload...)
		}
		if !tcp.ACK {
			t.Errorf("packet %d without ACK flag", i)
		}
	}
	if want := append(append([]byte{}, recs[0].Payload...), recs[2].Payload...); !bytes.Equal(inbound, want) {
		t.Error("inbound TCP payloads do not concatenate to the messages")
	}
	// Each direction's sequence continues where the last segment ended,
	// and every segment acknowledges what the other side sent.
	next := map[bool]uint32{true: segs[0].seq, false: segs[1].seq}
	for i, s := range segs {
		if s.seq != next[s.in] {
			t.Errorf("segment %d: seq %d, want %d", i, s.seq, next[s.in])
		}
		next[s.in] = s.seq + uint32(s.n)
		if s.ack != next[!s.in] {
			t.Errorf("segment %d: ack %d, want %d", i, s.ack, next[!s.in])
		}
	}
	if segs[2].n != tcpSegment || segs[2].psh || !segs[3].psh {
		t.Errorf("INVITE segments %+v %+v: want a full segment then the rest with PSH", segs[2], segs[3])
	}
}

func TestWriterAddresses(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:5060")
	v6 := netip.MustParseAddrPort("[::1]:5060")
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.2]:5070")
	tests := []struct {
		name          string
		local, remote netip.AddrPort
		want          gopacket.LayerType
		err           error
	}{
		{"v4", v4, mapped, layers.LayerTypeIPv4, nil},
		{"v6", v6, v6, layers.LayerTypeIPv6, nil},
		{"mixed becomes v6", v4, v6, layers.LayerTypeIPv6, nil},
		{"no remote", v4, netip.AddrPort{}, layers.LayerTypeIPv4, nil},
		{"no addresses", netip.AddrPort{}, netip.AddrPort{}, 0, ErrAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec := Record{Time: time.Unix(1, 0), Dir: In, Transport: UDP, Kind: SIP, Local: tt.local, Remote: tt.remote, Payload: []byte("OPTIONS")}
			err = w.Write(&rec)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			_ = w.Flush()
			pkts, _ := readPcapng(t, &buf)
			if len(pkts) != 1 || pkts[0].pkt.Layer(tt.want) == nil {
				t.Fatalf("want one %v packet, got %v", tt.want, pkts)
			}
		})
	}
}

func TestWriterTooLarge(t *testing.T) {
	w, err := NewWriter(io.Discard, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Dir: In, Transport: UDP, Local: accessSIP, Remote: phoneSIP, Payload: make([]byte, MaxPayload+1)}
	if err := w.Write(&rec); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	rec.Payload = rec.Payload[:MaxPayload]
	rec.Local, rec.Remote = netip.MustParseAddrPort("[::1]:5060"), netip.MustParseAddrPort("[::2]:5060")
	if err := w.Write(&rec); err != nil {
		t.Fatalf("largest payload over IPv6: %v", err)
	}
}

func BenchmarkWriter(b *testing.B) {
	recs := sipCall(time.Unix(1795000000, 0), 50)
	w, err := NewWriter(io.Discard, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.Write(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
