//go:build linux

package rtpengine

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestKernelSRTP: an SDES-SRTP <-> RTP call is handed to the kernel
// once both sides are latched; packets cross in both directions through
// the in-kernel SRTP program and conntrack NAT, across a sequence number
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
		if n := len(kernelEntries(t, e)); n != 1 {
			t.Fatalf("%d conntrack entries", n)
		}
		for range 40 { // a's sequence wraps at the 36th
			aToB()
			bToA()
		}
		waitFor(t, 2*time.Second, "kernel counters", func() bool { return e.KernelMetrics().Packets >= 80 })

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
