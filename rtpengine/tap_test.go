package rtpengine

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

type recTap struct {
	mu   sync.Mutex
	pkts []string
}

func (r *recTap) MediaPacket(callID string, in, rtcp bool, local, remote netip.AddrPort, pkt []byte) {
	dir := "out"
	if in {
		dir = "in"
	}
	r.mu.Lock()
	r.pkts = append(r.pkts, callID+" "+dir+" "+local.String()+" "+remote.String())
	r.mu.Unlock()
}

func (r *recTap) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pkts)
}

func TestCaptureTapsBothDirectionsOnlyWhileOn(t *testing.T) {
	tap := &recTap{}
	e := newTestEngine(t, 42320, netip.Addr{}, func(c *Config) { c.Tap = tap })
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "cap", a, b)
	a.send(rtpPacket(0, 1, 0, 0xA, 160), sbcA)
	expectRTP(t, b, 1, sbcB)
	if n := tap.len(); n != 0 {
		t.Fatalf("%d packets tapped before capture started", n)
	}
	if err := e.Capture("cap", true); err != nil {
		t.Fatal(err)
	}
	a.send(rtpPacket(0, 2, 160, 0xA, 160), sbcA)
	expectRTP(t, b, 2, sbcB)
	waitFor(t, time.Second, "tap", func() bool { return tap.len() == 2 })
	tap.mu.Lock()
	want := []string{"cap in " + sbcA.String() + " " + a.addr.String(), "cap out " + sbcB.String() + " " + b.addr.String()}
	for i, w := range want {
		if tap.pkts[i] != w {
			t.Errorf("tapped[%d] = %q, want %q", i, tap.pkts[i], w)
		}
	}
	tap.mu.Unlock()
	if err := e.Capture("cap", false); err != nil {
		t.Fatal(err)
	}
	a.send(rtpPacket(0, 3, 320, 0xA, 160), sbcA)
	expectRTP(t, b, 3, sbcB)
	if n := tap.len(); n != 2 {
		t.Fatalf("%d packets tapped after capture stopped", n)
	}
	if err := e.Capture("nope", true); err == nil {
		t.Fatal("capture of an unknown call accepted")
	}
}

// TestTapRTCPForEveryCall: with TapRTCP every call's inbound RTCP reaches
// the tap without a capture, RTP does not; a capture started and stopped
// falls back to RTCP only.
func TestTapRTCPForEveryCall(t *testing.T) {
	tap := &recTap{}
	e := newTestEngine(t, 42800, netip.Addr{}, func(c *Config) { c.Tap, c.TapRTCP = tap, true })
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "rtcp", a, b)
	aRTCP := newPeerAt(t, a.addr.Port()+1)
	bRTCP := newPeerAt(t, b.addr.Port()+1)
	a.send(rtpPacket(0, 1, 0, 0xA, 160), sbcA)
	expectRTP(t, b, 1, sbcB)
	aRTCP.send(rtcpRR(0xA, 0xB, 0, 0), lo(int(sbcA.Port())+1))
	if _, _, ok := bRTCP.recv(2 * time.Second); !ok {
		t.Fatal("RR not relayed")
	}
	waitFor(t, time.Second, "rtcp tap", func() bool { return tap.len() == 1 })
	tap.mu.Lock()
	if want := "rtcp in " + lo(int(sbcA.Port())+1).String() + " " + aRTCP.addr.String(); tap.pkts[0] != want {
		t.Errorf("tapped %q, want %q", tap.pkts[0], want)
	}
	tap.mu.Unlock()
	if err := e.Capture("rtcp", true); err != nil {
		t.Fatal(err)
	}
	if err := e.Capture("rtcp", false); err != nil {
		t.Fatal(err)
	}
	a.send(rtpPacket(0, 2, 160, 0xA, 160), sbcA)
	expectRTP(t, b, 2, sbcB)
	aRTCP.send(rtcpRR(0xA, 0xB, 0, 0), lo(int(sbcA.Port())+1))
	if _, _, ok := bRTCP.recv(2 * time.Second); !ok {
		t.Fatal("RR not relayed")
	}
	waitFor(t, time.Second, "second rtcp", func() bool { return tap.len() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := tap.len(); n != 2 {
		t.Fatalf("%d packets tapped, want the two RRs only", n)
	}
}
