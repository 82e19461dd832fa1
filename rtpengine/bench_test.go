package rtpengine

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRelayHandle is the per-packet relay decision: demux, validate,
// latch check, sequence/jitter stats and target selection.
func BenchmarkRelayHandle(b *testing.B) {
	r, _ := fuzzEndpoints()
	r.ep.params.Store(&mediaParams{clock: [128]uint32{0: 8000}})
	src := netip.MustParseAddrPort("127.0.0.1:5000")
	pkt := rtpPacket(0, 0, 0, 0x1234, 160)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	var seq uint16
	now := int64(time.Second)
	for b.Loop() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		now += int64(20 * time.Millisecond)
		if _, _, _, ok := r.handle(pkt, src, now); !ok {
			b.Fatal("not forwarded")
		}
	}
}

func BenchmarkDemux(b *testing.B) {
	pkt := rtpPacket(0, 1, 0, 1, 160)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	var h rtpHeader
	for b.Loop() {
		if demux(pkt, &h) != kindRTP {
			b.Fatal("not rtp")
		}
	}
}

// BenchmarkRelayLoopback sends packets from one loopback peer through
// the engine's sockets to the other and waits for each (one relay hop:
// a receive and a send in the engine), with each socket model.
func BenchmarkRelayLoopback(b *testing.B) {
	modes := []RelayMode{RelayGoroutine}
	if rawRelaySupported {
		modes = append(modes, RelayEpoll)
	}
	for _, mode := range modes {
		b.Run(string(mode), func(b *testing.B) {
			e := newTestEngine(b, 41800, netip.Addr{}, func(c *Config) { c.Relay = mode })
			pa, pb := newPeer(b), newPeer(b)
			sbcA, _ := relayCall(b, e, "bench", pa, pb)
			pkt := rtpPacket(0, 0, 0, 1, 160)
			buf := make([]byte, 2048)
			_ = pb.conn.SetReadDeadline(time.Now().Add(time.Minute))
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			var seq uint16
			for b.Loop() {
				seq++
				binary.BigEndian.PutUint16(pkt[2:], seq)
				pa.send(pkt, sbcA)
				if _, _, err := pb.conn.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOfferAnswer(b *testing.B) {
	e := newTestEngine(b, 41840, netip.Addr{}, func(c *Config) { c.PortDrain = time.Nanosecond })
	offer, err := os.ReadFile(filepath.Join("testdata", "basic.offer.sdp"))
	if err != nil {
		b.Fatal(err)
	}
	answer, err := os.ReadFile(filepath.Join("testdata", "basic.answer.sdp"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Offer(ctx, OfferRequest{CallID: "b", FromTag: "a", SDP: offer, Flags: Flags{ToInterface: "core"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Answer(ctx, AnswerRequest{CallID: "b", FromTag: "a", ToTag: "b", SDP: answer}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Delete("b", ""); err != nil {
			b.Fatal(err)
		}
	}
}
