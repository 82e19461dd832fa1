//go:build linux

package rtpengine

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine/ksrtp"
)

// TestKernelSRTP: an SDES-SRTP <-> RTP call is handed to the kernel
// once both sides are latched; packets cross in both directions through
// the in-kernel SRTP program, which forwards them itself, across a sequence number
// wrap; forgeries are dropped and counted there; the rollover counter
// comes back to user space when the stream does, and a new SSRC makes
// the kernel give the stream back to user space, which then offloads
// the new flow.
func TestKernelSRTP(t *testing.T) {
	inNetns(t, true, func() {
		e := newTestEngine(t, 43300, netip.Addr{}, func(c *Config) { c.Kernel = KernelOn })
		if m := e.KernelMetrics(); m.SRTP != "on" {
			t.Fatalf("in-kernel SRTP %q", m.SRTP)
		}
		a, b := newPeer(t), newPeer(t)
		ctx := context.Background()
		off, err := e.Offer(ctx, OfferRequest{CallID: "ks", FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv"),
			Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/SAVP"}})
		if err != nil {
			t.Fatal(err)
		}
		ours := cryptoOf(t, off)
		if ours[1].suite.name != "AES_CM_128_HMAC_SHA1_80" {
			t.Fatalf("first offered suite %s", ours[1].suite.name)
		}
		bKey := newCrypto(1, ours[1].suite)
		ans, err := e.Answer(ctx, AnswerRequest{CallID: "ks", FromTag: "a", ToTag: "b", SDP: savpSDP(b.addr.Port(), bKey)})
		if err != nil {
			t.Fatal(err)
		}
		sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])
		bIn, bOut := srtpCtx(t, ours[1], true), srtpCtx(t, bKey, false)

		aSeq, bSeq := uint16(65500), uint16(500)
		bSSRC := uint32(0x2222)
		// aToB sends plain RTP from a; b must get it as SRTP under the
		// offered key. bToA the other way.
		aToB := func() {
			t.Helper()
			plain := rtpPacket(0, aSeq, uint32(aSeq)*160, 0x1111, 160)
			aSeq++
			a.send(plain, sbcA)
			got, _, ok := b.recv(2 * time.Second)
			if !ok {
				t.Fatalf("a->b seq %d: nothing arrived", aSeq-1)
			}
			dec, err := bIn.DecryptRTP(nil, got, nil)
			if err != nil || !bytes.Equal(dec, plain) {
				t.Fatalf("a->b seq %d: %v", aSeq-1, err)
			}
		}
		bToA := func() {
			t.Helper()
			plain := rtpPacket(0, bSeq, uint32(bSeq)*160, bSSRC, 160)
			bSeq++
			enc, err := bOut.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.send(enc, sbcB)
			got, _, ok := a.recv(2 * time.Second)
			if !ok || !bytes.Equal(got, plain) {
				t.Fatalf("b->a seq %d: got %d bytes, ok %v", bSeq-1, len(got), ok)
			}
		}
		aToB()
		bToA()
		waitFor(t, 2*time.Second, "srtp offload", func() bool {
			m := e.KernelMetrics()
			return m.Offloaded == 1 && m.SRTPOffloaded == 1
		})
		if n := len(kernelEntries(t, e)); n != 0 {
			t.Fatalf("%d conntrack entries: the program forwards SRTP flows itself", n)
		}
		for range 40 { // a's sequence wraps at the 36th
			aToB()
			bToA()
		}
		waitFor(t, 2*time.Second, "kernel counters", func() bool { return e.KernelMetrics().Packets >= 80 })
		// The slots' counters reach the call's streams, both ways: the
		// query (and the CDR) count what the kernel forwarded.
		qs, err := e.Query("ks")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range qs.Legs {
			for _, st := range l.Streams {
				if st.PacketsIn < 40 || st.PacketsOut < 40 || st.BytesIn < 40*160 {
					t.Fatalf("leg %s stream counts %+v", l.Tag, st)
				}
			}
		}

		// A forgery dies in the kernel and is counted as an SRTP error.
		forged, _ := bOut.EncryptRTP(nil, rtpPacket(0, bSeq+100, 0, bSSRC, 160), nil)
		forged[len(forged)-1] ^= 0xff
		b.send(forged, sbcB)
		expectNothing(t, a)
		waitFor(t, 2*time.Second, "srtp error", func() bool { return e.Metrics().Traffic.SRTPErrors >= 1 })

		// The stream comes back to user space: the contexts continue
		// with the rollover counter the kernel reached.
		// (A packet that meets the hand-over is lost, as for plain RTP:
		// the test waits for the stream to settle before sending.)
		e.mu.Lock()
		c := e.calls["ks"]
		e.mu.Unlock()
		c.mu.Lock()
		e.kernelYield(c)
		c.mu.Unlock()
		waitFor(t, 2*time.Second, "offloaded again", func() bool { return e.KernelMetrics().Offloads == 2 })
		for range 5 {
			aToB()
			bToA()
		}

		// b's source restarts with a new SSRC: the kernel drops what it
		// cannot handle and gives the stream back; user space relays the
		// new source and offloads the new flow.
		bSSRC = 0x3333
		plain := rtpPacket(0, bSeq, 0, bSSRC, 160)
		enc, _ := bOut.EncryptRTP(nil, plain, nil)
		b.send(enc, sbcB)
		expectNothing(t, a)
		waitFor(t, 2*time.Second, "taken back", func() bool { return e.KernelMetrics().SRTPTakenBack == 1 })
		bSeq++
		bToA() // user space relays the new source and publishes its SSRC
		waitFor(t, 2*time.Second, "new flow offloaded", func() bool { return e.KernelMetrics().Offloads == 3 })
		for range 5 {
			bToA()
			aToB()
		}
		if _, err := e.Delete("ks", ""); err != nil {
			t.Fatal(err)
		}
		if m := e.KernelMetrics(); m.Offloaded != 0 || m.SRTPOffloaded != 0 {
			t.Fatalf("after delete %+v", m)
		}
	})
}

// TestSlotStreams: each slot forwards to the other leg's peer from our
// port on that leg, with that leg's DSCP, along the peer's route; a
// stream between a peer on this host and one elsewhere stays in user
// space.
func TestSlotStreams(t *testing.T) {
	s80, _ := suiteByName("AES_CM_128_HMAC_SHA1_80")
	rx, err := newCipher(newCrypto(1, s80), true)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := newCipher(newCrypto(1, s80), false)
	if err != nil {
		t.Fatal(err)
	}
	secPeer, secLocal := netip.MustParseAddrPort("198.51.100.7:5000"), netip.MustParseAddrPort("192.0.2.1:30000")
	plainPeer, plainLocal := netip.MustParseAddrPort("203.0.113.9:6000"), netip.MustParseAddrPort("192.0.2.2:40000")
	// a is the plain side here (srtp 2: b speaks SRTP).
	f := kernelFlow{aPeer: plainPeer, aLocal: plainLocal, bPeer: secPeer, bLocal: secLocal, srtp: 2, rx: rx, tx: tx, ssrcSec: 7, ssrcPlain: 9}
	sec := &endpoint{pool: &pool{cfg: InterfaceConfig{DSCP: 46}}}
	plain := &endpoint{pool: &pool{cfg: InterfaceConfig{DSCP: -1}}}
	gw := netip.MustParseAddr("192.0.2.254")
	remote := func(a netip.Addr) (route, error) {
		if a == secPeer.Addr() {
			return route{ifindex: 3, nh: gw}, nil
		}
		return route{ifindex: 4, nh: a}, nil
	}
	st, err := slotStreams(f, sec, plain, remote)
	if err != nil {
		t.Fatal(err)
	}
	un, pr := st[0], st[1]
	if un.Mode != ksrtp.Unprotect || un.Peer != secPeer || un.Local != secLocal || un.SSRC != 7 ||
		un.Out != (ksrtp.Forward{From: plainLocal, To: plainPeer, Ifindex: 4, NextHop: plainPeer.Addr(), TOS: 0}) {
		t.Fatalf("unprotect slot %+v", un)
	}
	if pr.Mode != ksrtp.Protect || pr.Peer != plainPeer || pr.Local != plainLocal || pr.SSRC != 9 ||
		pr.Out != (ksrtp.Forward{From: secLocal, To: secPeer, Ifindex: 3, NextHop: gw, TOS: 46 << 2}) {
		t.Fatalf("protect slot %+v", pr)
	}
	mixed := func(a netip.Addr) (route, error) {
		if a == secPeer.Addr() {
			return route{local: true}, nil
		}
		return route{ifindex: 4, nh: a}, nil
	}
	if _, err := slotStreams(f, sec, plain, mixed); !errors.Is(err, errMixedHosts) {
		t.Fatalf("mixed hosts: %v", err)
	}
	// The kernel's own table: loopback is local.
}
