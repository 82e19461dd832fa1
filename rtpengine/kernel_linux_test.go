//go:build linux

package rtpengine

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine/kfwd"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/test/testenv"
)

// inNetns runs fn inside a fresh network namespace; hooks also
// registers conntrack and the NAT hooks there (what docs/operations.md
// asks of the operator).
func inNetns(t *testing.T, hooks bool, fn func()) {
	t.Helper()
	var setup [][]string
	if hooks {
		testenv.RequireTool(t, "iptables")
		setup = testenv.KernelNATHooks
	}
	testenv.InNetns(t, setup, fn)
}

// kernelEntries lists the NAT entries whose original destination is
// one of e's media ports.
func kernelEntries(t *testing.T, e *Engine) []kfwd.Entry {
	t.Helper()
	c, err := kfwd.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all, err := c.List(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var out []kfwd.Entry
	for _, en := range all {
		if en.Status&kfwd.StatusDstNAT != 0 && e.ownsPort(en.Orig.Dst) {
			out = append(out, en)
		}
	}
	return out
}

func TestKernelForwardingLifecycle(t *testing.T) {
	inNetns(t, true, func() {
		e := newTestEngine(t, 43100, netip.Addr{}, func(c *Config) { c.Kernel = KernelOn })
		if m := e.KernelMetrics(); m.Mode != "on" {
			t.Fatalf("mode %q", m.Mode)
		}
		a, b := newPeer(t), newPeer(t)
		sbcA, sbcB := relayCall(t, e, "kf", a, b)
		// Latch both sides in user space.
		a.send(rtpPacket(0, 1, 0, 0xA, 160), sbcA)
		expectRTP(t, b, 1, sbcB)
		b.send(rtpPacket(0, 1, 0, 0xB, 160), sbcB)
		expectRTP(t, a, 1, sbcA)
		waitFor(t, 2*time.Second, "offload", func() bool { return e.KernelMetrics().Offloaded == 1 })
		en := kernelEntries(t, e)
		if len(en) != 1 || en[0].Orig.Src != a.addr || en[0].Orig.Dst != sbcA || en[0].Reply.Src != b.addr || en[0].Reply.Dst != sbcB {
			t.Fatalf("kernel entries %+v", en)
		}
		for i := range uint16(20) {
			a.send(rtpPacket(0, 2+i, 0, 0xA, 160), sbcA)
			expectRTP(t, b, 2+i, sbcB)
			b.send(rtpPacket(0, 2+i, 0, 0xB, 160), sbcB)
			expectRTP(t, a, 2+i, sbcA)
		}
		// The 40 packets were the kernel's: its counters have them, and
		// the streams' statistics count them once.
		waitFor(t, 2*time.Second, "kernel counters", func() bool { return e.KernelMetrics().Packets == 40 })
		st, err := e.Query("kf")
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := st.Legs[0].Streams[0], st.Legs[1].Streams[0]
		if sa.PacketsIn != 21 || sa.PacketsOut != 21 || sb.PacketsIn != 21 || sb.PacketsOut != 21 || sa.BytesIn != 21*172 {
			t.Fatalf("stats a=%+v b=%+v", sa, sb)
		}
		if sa.Lost != 0 {
			t.Fatalf("lost %d", sa.Lost)
		}
		// b's receiver report about what it got from a (through the
		// kernel) gives the a-stream's loss and jitter; RTCP stays in
		// user space.
		rtcpB := newPeerAt(t, b.addr.Port()+1)
		rr := rtcpRR(0xB, 0xA, 0, 0)
		put32(rr[12:], 5)   // cumulative lost
		put32(rr[20:], 160) // jitter: 160 ticks of 8 kHz = 20 ms
		rtcpB.send(rr, lo(int(sbcB.Port())+1))
		waitFor(t, 2*time.Second, "RTCP loss", func() bool {
			st, _ := e.Query("kf")
			s := st.Legs[0].Streams[0]
			return s.Lost == 5 && s.Jitter == 20*time.Millisecond
		})

		// The caller's source moves (new port, new SSRC) after its old
		// source fell silent: the latch moves per policy and so does
		// the kernel entry.
		time.Sleep(relatchAfter + 2*kernelPoll + 100*time.Millisecond)
		a2 := newPeer(t)
		// The first packet moves the latch; user space drops it rather
		// than send it past the old entry (it would leave with another
		// source port).
		a2.send(rtpPacket(0, 100, 0, 0xA2, 160), sbcA)
		expectNothing(t, b)
		waitFor(t, 2*time.Second, "new entry", func() bool {
			en := kernelEntries(t, e)
			return len(en) == 1 && en[0].Orig.Src == a2.addr
		})
		b.send(rtpPacket(0, 200, 0, 0xB, 160), sbcB)
		expectRTP(t, a2, 200, sbcA)
		a2.send(rtpPacket(0, 101, 0, 0xA2, 160), sbcA)
		expectRTP(t, b, 101, sbcB)
		// The old source is refused (strict source), in user space.
		a.send(rtpPacket(0, 50, 0, 0xA, 160), sbcA)
		expectNothing(t, b)

		// Hold: the entry is gone when the re-offer returns.
		ctx := context.Background()
		if _, err := e.Offer(ctx, OfferRequest{CallID: "kf", FromTag: "b", ToTag: "a", SDP: peerSDP(b.addr.Port(), "sendonly")}); err != nil {
			t.Fatal(err)
		}
		if en := kernelEntries(t, e); len(en) != 0 {
			t.Fatalf("entries on hold: %+v", en)
		}
		if _, err := e.Answer(ctx, AnswerRequest{CallID: "kf", FromTag: "b", ToTag: "a", SDP: peerSDP(a2.addr.Port(), "recvonly")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * kernelPoll)
		if m := e.KernelMetrics(); m.Offloaded != 0 || len(kernelEntries(t, e)) != 0 {
			t.Fatalf("offloaded on hold: %+v", m)
		}
		b.send(rtpPacket(0, 201, 0, 0xB, 160), sbcB) // relayed in user space
		expectRTP(t, a2, 201, sbcA)

		// Resume: offloaded again; delete removes it.
		if _, err := e.Offer(ctx, OfferRequest{CallID: "kf", FromTag: "b", ToTag: "a", SDP: peerSDP(b.addr.Port(), "sendrecv")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Answer(ctx, AnswerRequest{CallID: "kf", FromTag: "b", ToTag: "a", SDP: peerSDP(a2.addr.Port(), "sendrecv")}); err != nil {
			t.Fatal(err)
		}
		// The hold answer signalled a2's address, which cleared a's
		// latch: a2's next packet latches it again in user space.
		a2.send(rtpPacket(0, 102, 0, 0xA2, 160), sbcA)
		expectRTP(t, b, 102, sbcB)
		waitFor(t, 2*time.Second, "offload after resume", func() bool { return e.KernelMetrics().Offloaded == 1 })
		a2.send(rtpPacket(0, 103, 0, 0xA2, 160), sbcA)
		expectRTP(t, b, 103, sbcB)
		final, err := e.Delete("kf", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(kernelEntries(t, e)) != 0 || e.KernelMetrics().Offloaded != 0 {
			t.Fatal("entry left after delete")
		}
		// Every packet a's side sent that was accepted is counted: 1+20
		// from a, 2 from a2 (the first, which moved the latch, counts
		// as received and dropped) and 2 after resume; dropped are that
		// one and the refused packet from a's old source.
		if s := final.Legs[0].Streams[0]; s.PacketsIn != 25 || s.Dropped != 2 {
			t.Fatalf("delete stats: %d packets in, %d dropped, want 25 and 2", s.PacketsIn, s.Dropped)
		}
		if m := e.KernelMetrics(); m.Offloads < 3 || m.Failures != 0 {
			t.Fatalf("metrics %+v", m)
		}
	})
}

func TestKernelForwardingUnavailable(t *testing.T) {
	inNetns(t, false, func() {
		cfg := Config{Interfaces: []InterfaceConfig{{Name: "x", Addr: loopback, PortMin: 43200, PortMax: 43210}},
			Logger: testLogger(t), Kernel: KernelOn}
		if e, err := New(cfg); !errors.Is(err, ErrKernel) {
			if e != nil {
				_ = e.Close()
			}
			t.Fatalf("on without NAT hooks: %v, want ErrKernel", err)
		}
		cfg.Kernel = KernelAuto
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if m := e.Metrics().Kernel; m.Mode != "fallback" {
			t.Fatalf("auto without NAT hooks: mode %q", m.Mode)
		}
	})
}

func TestQueuedSeesWaitingDatagrams(t *testing.T) {
	s, err := openRaw(netip.AddrPortFrom(loopback, 0), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rawClose(s.fd)
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		t.Fatal(err)
	}
	to := netip.AddrPortFrom(loopback, uint16(sa.(*unix.SockaddrInet4).Port))
	if queued(s) {
		t.Fatal("empty socket reported as queued")
	}
	p := newPeer(t)
	p.send([]byte("x"), to)
	waitFor(t, time.Second, "datagram queued", func() bool { return queued(s) })
	if queued(nil) {
		t.Fatal("nil socket reported as queued")
	}
}

func TestKernelForwardingRemovesStaleEntries(t *testing.T) {
	inNetns(t, true, func() {
		c, err := kfwd.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// What a killed sbcd leaves: one entry into its media ports, and
		// one of somebody else's that must stay.
		stale := kfwd.Flow{Orig: kfwd.Tuple{Src: lo(5000), Dst: lo(43300)}, DNAT: lo(6000), SNAT: lo(43302), Timeout: 60}
		other := kfwd.Flow{Orig: kfwd.Tuple{Src: lo(5002), Dst: lo(9000)}, DNAT: lo(6002), SNAT: lo(9002), Timeout: 60}
		for _, f := range []kfwd.Flow{stale, other} {
			if err := c.Forward(f); err != nil {
				t.Fatal(err)
			}
		}
		e := newTestEngine(t, 43300, netip.Addr{}, func(c *Config) { c.Kernel = KernelOn })
		if en := kernelEntries(t, e); len(en) != 0 {
			t.Fatalf("stale entries left: %+v", en)
		}
		if _, err := c.Get(other.Orig); err != nil {
			t.Fatalf("an entry outside the media ports was removed: %v", err)
		}
	})
}

func TestKernelForwardingShutdownRemovesEntries(t *testing.T) {
	inNetns(t, true, func() {
		e := newTestEngine(t, 43340, netip.Addr{}, func(c *Config) { c.Kernel = KernelOn })
		a, b := newPeer(t), newPeer(t)
		sbcA, sbcB := relayCall(t, e, "bye", a, b)
		a.send(rtpPacket(0, 1, 0, 0xA, 160), sbcA)
		expectRTP(t, b, 1, sbcB)
		b.send(rtpPacket(0, 1, 0, 0xB, 160), sbcB)
		expectRTP(t, a, 1, sbcA)
		waitFor(t, 2*time.Second, "offload", func() bool { return len(kernelEntries(t, e)) == 1 })
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if en := kernelEntries(t, e); len(en) != 0 {
			t.Fatalf("entries after Close: %+v", en)
		}
	})
}
