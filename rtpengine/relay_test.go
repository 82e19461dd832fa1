package rtpengine

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// peerSDP is a one-stream audio SDP for a loopback peer.
func peerSDP(port uint16, dir string, extra ...string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 8", port), "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=" + dir}
	lines = append(lines, extra...)
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// sdpMediaPorts returns the ports of the m= lines of an SDP.
func sdpMediaPorts(t testing.TB, b []byte) []int {
	t.Helper()
	var ports []int
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "m=") {
			f := strings.Fields(l)
			p, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("bad m= line %q", l)
			}
			ports = append(ports, p)
		}
	}
	return ports
}

func lo(port int) netip.AddrPort { return netip.AddrPortFrom(loopback, uint16(port)) }

// relayCall sets up a call between peers a and b through e and returns the
// SBC ports facing a and b.
func relayCall(t testing.TB, e *Engine, id string, a, b *peer) (sbcA, sbcB netip.AddrPort) {
	t.Helper()
	ctx := context.Background()
	off, err := e.Offer(ctx, OfferRequest{CallID: id, FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv"),
		Flags: Flags{FromInterface: "access", ToInterface: "core"}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: id, FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	return lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])
}

// expectRTP waits for an RTP packet with the given sequence number.
func expectRTP(t testing.TB, p *peer, seq uint16, from netip.AddrPort) {
	t.Helper()
	b, src, ok := p.recv(2 * time.Second)
	if !ok {
		t.Fatalf("no packet (seq %d) arrived", seq)
	}
	if got := binary.BigEndian.Uint16(b[2:]); got != seq {
		t.Fatalf("got seq %d, want %d", got, seq)
	}
	if src != from {
		t.Fatalf("packet came from %v, want %v", src, from)
	}
}

func expectNothing(t testing.TB, p *peer) {
	t.Helper()
	if b, _, ok := p.recv(100 * time.Millisecond); ok {
		t.Fatalf("unexpected packet %x", b[:min(len(b), 16)])
	}
}

func TestRelayBothWays(t *testing.T) {
	e := newTestEngine(t, 41300, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "both", a, b)
	if sbcA.Port() < 41300 || sbcA.Port() > 41319 || sbcB.Port() < 41320 || sbcB.Port() > 41339 {
		t.Fatalf("ports from wrong pools: %v %v", sbcA, sbcB)
	}
	for i := range uint16(5) {
		a.send(rtpPacket(0, 100+i, 160*uint32(i), 0xA, 160), sbcA)
		expectRTP(t, b, 100+i, sbcB)
		b.send(rtpPacket(0, 500+i, 160*uint32(i), 0xB, 160), sbcB)
		expectRTP(t, a, 500+i, sbcA)
	}
	// RTCP on the RTP+1 ports reaches the other side's RTCP port (RTP+1).
	rr := rtcpRR(0xA, 0, 0, 0)
	rtcpB := newPeerAt(t, b.addr.Port()+1)
	a.send(rr, lo(int(sbcA.Port())+1))
	got, src, ok := rtcpB.recv(2 * time.Second)
	if !ok || string(got) != string(rr) || src.Port() != sbcB.Port()+1 {
		t.Fatalf("RTCP not relayed: ok=%v from %v", ok, src)
	}
	st, err := e.Query("both")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Legs) != 2 || st.Legs[0].Tag != "a" || st.Legs[1].Tag != "b" || st.Legs[0].Interface != "access" {
		t.Fatalf("legs %+v", st.Legs)
	}
	sa, sb := st.Legs[0].Streams[0], st.Legs[1].Streams[0]
	if sa.PacketsIn != 6 || sa.PacketsOut != 5 || sb.PacketsIn != 5 || sb.PacketsOut != 6 {
		t.Fatalf("counters a=%+v b=%+v", sa, sb)
	}
	if sa.Peer != a.addr || sb.Peer != b.addr || sa.Local != sbcA {
		t.Fatalf("addresses a=%+v b=%+v", sa, sb)
	}
	if sa.Lost != 0 || sa.Dropped != 0 || st.MOS < 4 {
		t.Fatalf("quality a=%+v mos=%v", sa, st.MOS)
	}
}

// newPeerAt binds a loopback peer on a given port.
func newPeerAt(t testing.TB, port uint16) *peer {
	t.Helper()
	p := newPeer(t)
	_ = p.conn.Close()
	c, err := listenDefault(netUDPAddr(lo(int(port))))
	if err != nil {
		skipUnlessCI(t, "port %d busy: %v", port, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &peer{t: t, conn: c, addr: lo(int(port))}
}

func TestRelayLatchingAndStrictSource(t *testing.T) {
	e := newTestEngine(t, 41340, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "latch", a, b)
	// A's real source differs from its SDP (NAT): the first packet latches it.
	nat := newPeer(t)
	nat.send(rtpPacket(0, 1, 0, 0x1, 20), sbcA)
	expectRTP(t, b, 1, sbcB)
	b.send(rtpPacket(0, 9, 0, 0x2, 20), sbcB)
	expectRTP(t, nat, 9, sbcA) // symmetric RTP: to the latched source, not the SDP address
	expectNothing(t, a)

	// Strict source: another address (even with a new SSRC) right after is dropped.
	intruder := newPeer(t)
	intruder.send(rtpPacket(0, 2, 0, 0x99, 20), sbcA)
	intruder.send(rtpPacket(0, 3, 0, 0x1, 20), sbcA)
	expectNothing(t, b)
	st, _ := e.Query("latch")
	if d := st.Legs[0].Streams[0].Dropped; d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
}

func TestRelayRelatchRule(t *testing.T) {
	e := newTestEngine(t, 41380, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "relatch", a, b)
	a.send(rtpPacket(0, 1, 0, 0x1, 20), sbcA)
	expectRTP(t, b, 1, sbcB)
	moved := newPeer(t)
	time.Sleep(relatchAfter + 100*time.Millisecond)
	// Old source silent for > 1 s, but the same SSRC: still refused.
	moved.send(rtpPacket(0, 2, 0, 0x1, 20), sbcA)
	expectNothing(t, b)
	// New SSRC from the new source: re-latched.
	moved.send(rtpPacket(0, 3, 0, 0x2, 20), sbcA)
	expectRTP(t, b, 3, sbcB)
	b.send(rtpPacket(0, 7, 0, 0xB, 20), sbcB)
	expectRTP(t, moved, 7, sbcA)
	// And now the old source is the stranger.
	a.send(rtpPacket(0, 4, 0, 0x3, 20), sbcA)
	expectNothing(t, b)
}

func TestRelayDropsMalformed(t *testing.T) {
	e := newTestEngine(t, 41420, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "bad", a, b)
	bad := [][]byte{
		{0x80},                        // truncated
		rtpPacket(0, 1, 0, 1, 0)[:11], // short header
		{0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},                                                  // version 1
		func() []byte { p := rtpPacket(0, 1, 0, 1, 4); p[0] |= 0x0f; return p }(),                   // CSRCs beyond the end
		func() []byte { p := rtpPacket(0, 1, 0, 1, 4); p[0] |= 0x10; return p }(),                   // extension beyond the end
		func() []byte { p := rtpPacket(0, 1, 0, 1, 4); p[0] |= 0x20; p[len(p)-1] = 40; return p }(), // padding beyond the end
		{0x00, 0x01, 0x00, 0x00},       // STUN
		{0x16, 0xfe, 0xfd},             // DTLS
		{0xff, 0xff},                   // other
		{0x80, 200, 0, 50, 0, 0, 0, 1}, // RTCP with a length beyond the end
	}
	for _, p := range bad {
		a.send(p, sbcA)
	}
	a.send(rtpPacket(0, 42, 0, 1, 20), sbcA)
	expectRTP(t, b, 42, sbcB) // only the valid one arrives
	st, _ := e.Query("bad")
	s := st.Legs[0].Streams[0]
	if s.Dropped != uint64(len(bad)) || s.PacketsIn != 1 {
		t.Fatalf("dropped %d in %d, want %d and 1", s.Dropped, s.PacketsIn, len(bad))
	}
}

func TestRelayReofferKeepsPortsAndHold(t *testing.T) {
	ctx := context.Background()
	var fired atomic.Int32
	e := newTestEngine(t, 41460, netip.Addr{}, func(c *Config) {
		c.Timeout = 150 * time.Millisecond
		c.HoldTimeout = time.Hour
		c.OnTimeout = func(string) { fired.Add(1) }
	})
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "reoffer", a, b)
	// Callee puts the call on hold with a re-INVITE (offer from b).
	off, err := e.Offer(ctx, OfferRequest{CallID: "reoffer", FromTag: "b", ToTag: "a", SDP: peerSDP(b.addr.Port(), "sendonly")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(off), "a=sendonly") || lo(sdpMediaPorts(t, off)[0]) != sbcA {
		t.Fatalf("re-offer to a:\n%s", off)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "reoffer", FromTag: "b", ToTag: "a", SDP: peerSDP(a.addr.Port(), "recvonly")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ans), "a=recvonly") || lo(sdpMediaPorts(t, ans)[0]) != sbcB {
		t.Fatalf("re-answer to b:\n%s", ans)
	}
	b.send(rtpPacket(0, 1, 0, 0xB, 20), sbcB)
	expectRTP(t, a, 1, sbcA)
	// On hold, the short Timeout does not apply.
	time.Sleep(400 * time.Millisecond)
	if fired.Load() != 0 {
		t.Fatal("held call timed out with the active timeout")
	}
}

func TestMediaTimeoutFiresOnce(t *testing.T) {
	var fired atomic.Int32
	got := make(chan string, 4)
	e := newTestEngine(t, 41500, netip.Addr{}, func(c *Config) {
		c.Timeout = 200 * time.Millisecond
		c.OnTimeout = func(id string) { fired.Add(1); got <- id }
	})
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "to", a, b)
	// Media keeps the call alive past the timeout...
	for i := range uint16(8) {
		a.send(rtpPacket(0, i, 0, 1, 20), sbcA)
		expectRTP(t, b, i, sbcB)
		time.Sleep(50 * time.Millisecond)
	}
	if fired.Load() != 0 {
		t.Fatal("timed out while media flowed")
	}
	// ...then silence ends it, exactly once.
	select {
	case id := <-got:
		if id != "to" {
			t.Fatalf("timeout for %q", id)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no timeout")
	}
	time.Sleep(500 * time.Millisecond)
	if n := fired.Load(); n != 1 {
		t.Fatalf("OnTimeout called %d times", n)
	}
}

func TestDeleteReleasesAndDrains(t *testing.T) {
	e := newTestEngine(t, 41540, netip.Addr{}, func(c *Config) { c.PortDrain = time.Hour })
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "del", a, b)
	for i := range uint16(10) {
		if i == 3 || i == 4 {
			continue // two lost
		}
		a.send(rtpPacket(0, i, 160*uint32(i), 1, 160), sbcA)
		expectRTP(t, b, i, sbcB)
	}
	a.send(rtpPacket(0, 9, 0, 1, 160), sbcA) // duplicate
	a.send(rtpPacket(0, 3, 0, 1, 160), sbcA) // late: out of order, one less lost
	expectRTP(t, b, 9, sbcB)
	expectRTP(t, b, 3, sbcB)
	st, err := e.Delete("del", "")
	if err != nil {
		t.Fatal(err)
	}
	s := st.Legs[0].Streams[0]
	if s.PacketsIn != 10 || s.Lost != 1 || s.Duplicates != 1 || s.OutOfOrder != 1 {
		t.Fatalf("stats %+v", s)
	}
	if st.MOS <= 1 || st.MOS >= 4.5 || st.RFactor <= 0 {
		t.Fatalf("MOS %v R %v", st.MOS, st.RFactor)
	}
	if _, err := e.Query("del"); err == nil {
		t.Fatal("deleted call still queryable")
	}
	if _, err := e.Delete("del", ""); err == nil {
		t.Fatal("second delete succeeded")
	}
	// The sockets are closed and the ports drain: no relaying any more.
	a.send(rtpPacket(0, 20, 0, 1, 20), sbcA)
	expectNothing(t, b)
	if n := e.pools["access"].inUse(); n != 0 {
		t.Fatalf("%d ports still in use", n)
	}
	// With every pair draining the pool is exhausted.
	for range 9 {
		if _, err := e.Offer(context.Background(), OfferRequest{CallID: "x" + strconv.Itoa(int(sbcA.Port())), FromTag: "a",
			SDP: peerSDP(a.addr.Port(), "sendrecv"), Flags: Flags{ToInterface: "core"}}); err != nil {
			t.Fatalf("offer: %v", err)
		}
		_, _ = e.Delete("x"+strconv.Itoa(int(sbcA.Port())), "")
	}
	if _, err := e.Offer(context.Background(), OfferRequest{CallID: "full", FromTag: "a",
		SDP: peerSDP(a.addr.Port(), "sendrecv"), Flags: Flags{ToInterface: "core"}}); err == nil {
		t.Fatal("offer succeeded on a drained pool")
	}
}
