package rtpengine

import (
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"

	"github.com/openborder/openborder/codecs"
)

// ringbackShare decodes PCMU payloads and returns the share of their
// energy at the US ringback's 440+480 Hz.
func ringbackShare(payloads [][]byte) float64 {
	var pcm []int16
	buf := make([]int16, 160)
	for _, p := range payloads {
		n := codecs.UlawDecodeFrame(buf, p)
		pcm = append(pcm, buf[:n]...)
	}
	return goertzelShare(pcm, 440) + goertzelShare(pcm, 480)
}

// TestPlaySDESRelayedCall: an SDES-SRTP caller of a relayed call gets
// local ringback before the answer, protected with the key of sbcd's
// early answer. The final answer carries the same key, and the callee's
// media after it decrypts in the caller's same inbound context: the
// played frames and the relayed ones share sbcd's outgoing context, each
// SSRC with its own rollover and replay state.
func TestPlaySDESRelayedCall(t *testing.T) {
	e := newTestEngine(t, 45200, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	ctx := context.Background()
	sAES, _ := suiteByName("AES_CM_128_HMAC_SHA1_80")
	aKey := newCrypto(1, sAES)
	offer := savpSDP(a.addr.Port(), aKey)
	off, err := e.Offer(ctx, OfferRequest{CallID: "s", FromTag: "A", SDP: offer,
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}})
	if err != nil {
		t.Fatal(err)
	}
	early, _, err := e.Play(ctx, PlayRequest{CallID: "s", FromTag: "A", SDP: offer, Country: "US", Tone: "ringback"})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if m := mLine(early); !strings.Contains(m, "RTP/SAVP 0") {
		t.Fatalf("early answer m= %q, want RTP/SAVP with PCMU", m)
	}
	keys := cryptoOf(t, early)
	ours, ok := keys[1]
	if len(keys) != 1 || !ok || ours.suite.name != sAES.name {
		t.Fatalf("early answer a=crypto %v, want one line of tag 1 in %s", keys, sAES.name)
	}
	in := srtpCtx(t, ours, true) // the caller's inbound context
	var payloads [][]byte
	var playSSRC uint32
	for len(payloads) < 25 { // half a second of ringback
		pkt, _, ok := a.recv(time.Second)
		if !ok {
			t.Fatalf("ringback stopped after %d packets", len(payloads))
		}
		dec, err := in.DecryptRTP(nil, pkt, nil)
		if err != nil {
			t.Fatalf("played packet %d does not decrypt with the answered key: %v", len(payloads), err)
		}
		if dec[1]&0x7f != 0 || len(dec) != 172 {
			t.Fatalf("played packet pt %d len %d, want PCMU 20 ms", dec[1]&0x7f, len(dec))
		}
		playSSRC = binary.BigEndian.Uint32(dec[8:])
		payloads = append(payloads, dec[12:])
	}
	if s := ringbackShare(payloads); s < 0.9 {
		t.Errorf("440+480 Hz carry %.2f of the decrypted ringback", s)
	}

	ans, err := e.Answer(ctx, AnswerRequest{CallID: "s", FromTag: "A", ToTag: "B", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	if got := cryptoOf(t, ans)[1]; !got.equal(ours) {
		t.Fatalf("the final answer changed sbcd's key:\n%s", ans)
	}
	if portOf(t, ans) != portOf(t, early) {
		t.Errorf("answer port %d, early media from %d", portOf(t, ans), portOf(t, early))
	}
	e.StopPlay("s")
	for { // played packets still in flight
		pkt, _, ok := a.recv(100 * time.Millisecond)
		if !ok {
			break
		}
		if _, err := in.DecryptRTP(nil, pkt, nil); err != nil {
			t.Fatalf("late played packet: %v", err)
		}
	}

	// The callee's media reaches the caller in the same context.
	sbcA, sbcB := lo(portOf(t, ans)), lo(sdpMediaPorts(t, off)[0])
	for i := range 5 {
		sent := rtpPacket(0, uint16(100+i), uint32(160*i), 0xB0B, 160)
		b.send(sent, sbcB)
		pkt, _, ok := a.recv(time.Second)
		if !ok {
			t.Fatalf("callee packet %d did not reach the caller", i)
		}
		dec, err := in.DecryptRTP(nil, pkt, nil)
		if err != nil || string(dec) != string(sent) {
			t.Fatalf("callee packet %d: %v", i, err)
		}
		if s := binary.BigEndian.Uint32(dec[8:]); s == playSSRC {
			t.Fatalf("relayed SSRC %x is the played one", s)
		}
	}
	// And the caller's SRTP, under the key it offered, reaches the callee.
	outA := srtpCtx(t, aKey, false)
	sent := rtpPacket(0, 7, 1120, 0xA0A, 160)
	enc, err := outA.EncryptRTP(nil, sent, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.send(enc, sbcA)
	if got, _, ok := b.recv(time.Second); !ok || string(got) != string(sent) {
		t.Fatalf("the caller's SRTP did not reach the callee decrypted (ok %v)", ok)
	}
}

// TestPlaySDESAnnouncement: an announcement to an SRTP caller with no
// relayed call (a failure before routing) is answered with a key of
// sbcd's in the offer's suite and plays for its length.
func TestPlaySDESAnnouncement(t *testing.T) {
	e := newTestEngine(t, 45240, netip.Addr{}, nil)
	a := newPeer(t)
	sGCM, _ := suiteByName("AEAD_AES_128_GCM")
	pcm := make([]int16, 2400) // 300 ms of 1 kHz
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	ans, length, err := e.Play(context.Background(), PlayRequest{CallID: "ann", FromTag: "A", Interface: "access",
		SDP: savpSDP(a.addr.Port(), newCrypto(3, sGCM)), PCM: pcm})
	if err != nil || length != 300*time.Millisecond {
		t.Fatalf("Play: %v, length %v", err, length)
	}
	ours, ok := cryptoOf(t, ans)[3]
	if !ok || ours.suite.name != sGCM.name || !strings.Contains(mLine(ans), "RTP/SAVP") {
		t.Fatalf("answer to the SRTP caller:\n%s", ans)
	}
	in := srtpCtx(t, ours, true)
	var got []int16
	buf := make([]int16, 160)
	n := 0
	for {
		pkt, _, ok := a.recv(300 * time.Millisecond)
		if !ok {
			break
		}
		dec, err := in.DecryptRTP(nil, pkt, nil)
		if err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		n++
		k := codecs.UlawDecodeFrame(buf, dec[12:])
		got = append(got, buf[:k]...)
	}
	if n != 15 {
		t.Errorf("%d packets, want 15 (300 ms)", n)
	}
	if s := goertzelShare(got, 1000); s < 0.9 {
		t.Errorf("1 kHz carries %.2f of the decrypted announcement", s)
	}
	e.Delete("ann", "")
}

// TestPlayDTLSICE: ringback to a DTLS-SRTP caller answered as ICE-lite
// goes nowhere until the caller's check nominates an address and the
// handshake gives keys (frames due before are dropped and counted); then
// it decrypts with the exported keys, and the callee's media after the
// answer decrypts in the same context.
func TestPlayDTLSICE(t *testing.T) {
	e := newTestEngine(t, 45280, netip.Addr{}, nil)
	a, b := newDemuxPeer(t), newPeer(t)
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	offer := webrtcSDP(a.addr.Port(), certFingerprint(cert.Certificate[0]))
	off, err := e.Offer(ctx, OfferRequest{CallID: "d", FromTag: "A", SDP: offer,
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}})
	if err != nil {
		t.Fatal(err)
	}
	early, _, err := e.Play(ctx, PlayRequest{CallID: "d", FromTag: "A", SDP: offer, Country: "US", Tone: "ringback", ICE: true})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	for _, want := range []string{"UDP/TLS/RTP/SAVPF 0", "a=setup:passive", "a=fingerprint:sha-256 ", "a=ice-lite", "a=rtcp-mux"} {
		if !strings.Contains(string(early), want) {
			t.Fatalf("early answer lacks %q:\n%s", want, early)
		}
	}
	sbcA := lo(portOf(t, early))
	c, _ := e.lookup("d")
	c.mu.Lock()
	ep := c.mono["A"].eps[0]
	c.mu.Unlock()
	if m, ok := a.media(150 * time.Millisecond); ok {
		t.Fatalf("media before any ICE check: %x", m[:min(len(m), 12)])
	}
	if ep.c.dropped.Load() == 0 {
		t.Error("frames due before the check were not counted as dropped")
	}

	a.send(bindingRequest(t, sdpLine(early, "ice-ufrag")+":peer", sdpLine(early, "ice-pwd"), true), sbcA)
	if m, ok := a.media(time.Second); !ok || m[0] > 3 {
		t.Fatalf("no binding response (ok %v)", ok)
	}
	// Checked, but no keys yet: still nothing, still counted.
	before := ep.c.dropped.Load()
	if m, ok := a.media(100 * time.Millisecond); ok {
		t.Fatalf("media before the DTLS handshake: %x", m[:min(len(m), 12)])
	}
	if ep.c.dropped.Load() <= before {
		t.Error("frames due before the handshake were not counted as dropped")
	}

	ourFP := fingerprintValue(sdpLine(early, "fingerprint"))
	cfg := dtlsClientKeys(ctx, t, a, sbcA, cert, ourFP)
	in, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile, srtp.SRTPReplayProtection(64))
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for len(payloads) < 25 {
		m, ok := a.media(time.Second)
		if !ok {
			t.Fatalf("ringback stopped after %d packets", len(payloads))
		}
		if m[0] < 128 {
			continue // STUN
		}
		dec, err := in.DecryptRTP(nil, m, nil)
		if err != nil {
			t.Fatalf("played packet %d does not decrypt with the DTLS keys: %v", len(payloads), err)
		}
		payloads = append(payloads, dec[12:])
	}
	if s := ringbackShare(payloads); s < 0.9 {
		t.Errorf("440+480 Hz carry %.2f of the decrypted ringback", s)
	}

	ans, err := e.Answer(ctx, AnswerRequest{CallID: "d", FromTag: "A", ToTag: "B", SDP: peerSDP(b.addr.Port(), "sendrecv"),
		Flags: Flags{ICE: "force", RTCPMux: "accept"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup"} {
		if sdpLine(ans, k) != sdpLine(early, k) {
			t.Errorf("a=%s changed from the early answer: %q then %q", k, sdpLine(early, k), sdpLine(ans, k))
		}
	}
	e.StopPlay("d")
	for {
		if _, ok := a.media(100 * time.Millisecond); !ok {
			break
		}
	}
	sbcB := lo(sdpMediaPorts(t, off)[0])
	sent := rtpPacket(0, 1, 160, 0xB0B, 160)
	b.send(sent, sbcB)
	m, ok := a.media(time.Second)
	if !ok {
		t.Fatal("the callee's media did not reach the caller")
	}
	if dec, err := in.DecryptRTP(nil, m, nil); err != nil || string(dec) != string(sent) {
		t.Fatalf("the callee's media does not decrypt in the caller's context: %v", err)
	}
}

// BenchmarkPlayedFrameSend is the sending of one 20 ms played PCMU frame
// (playOut.send: destination checks, SRTP protection on a secure leg,
// sendto on loopback), plain and through the leg's outgoing SDES context.
func BenchmarkPlayedFrameSend(b *testing.B) {
	for _, tc := range []struct{ name, suite string }{
		{"plain", ""}, {"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"}, {"AEAD_AES_128_GCM", "AEAD_AES_128_GCM"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sink := newPeer(b)
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ep := &endpoint{pp: &portPair{rtp: &mediaSock{fd: -1, conn: conn}}}
			dst := sink.addr
			ep.sigRTP.Store(&dst)
			if tc.suite != "" {
				s, _ := suiteByName(tc.suite)
				tx, err := newCipher(newCrypto(1, s), false)
				if err != nil {
					b.Fatal(err)
				}
				ep.tx.Store(tx)
				ep.secure.Store(true)
			}
			po := &playOut{ep: ep}
			pkt := rtpPacket(0, 0, 0, 0x5eed, 160)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				binary.BigEndian.PutUint16(pkt[2:], uint16(i))
				binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
				po.send(pkt)
				i++
			}
			if ep.c.packetsOut.Load() == 0 || ep.c.dropped.Load() != 0 {
				b.Fatalf("sent %d, dropped %d", ep.c.packetsOut.Load(), ep.c.dropped.Load())
			}
		})
	}
}

// TestPlayedAndRelayedShareContext: played frames and the relayed stream
// that follows them go through one outgoing context (as playOut.send and
// the relay's protect do), each SSRC across a sequence number wrap; the
// peer's one inbound context, with replay protection, takes every packet
// of both in order, and refuses a replayed one. In memory, no sockets.
func TestPlayedAndRelayedShareContext(t *testing.T) {
	for _, name := range []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"} {
		t.Run(name, func(t *testing.T) {
			s, _ := suiteByName(name)
			ours := newCrypto(1, s)
			tx, err := newCipher(ours, false)
			if err != nil {
				t.Fatal(err)
			}
			peer := srtpCtx(t, ours, true)
			var buf [readBufSize + 64]byte
			roundTrip := func(pkt []byte) error {
				enc, ok := tx.encrypt(buf[:0], pkt)
				if !ok {
					t.Fatal("encrypt failed")
				}
				dec, err := peer.DecryptRTP(nil, enc, nil)
				if err == nil && string(dec) != string(pkt) {
					t.Fatal("decrypted packet differs")
				}
				return err
			}
			// Ringback from 0xfff0 across the wrap (the rollover counter
			// of the played SSRC goes to 1), then the callee's media from
			// its own SSRC, also across a wrap, interleaved with the last
			// played frames still in flight.
			for i := range 40 {
				seq := uint16(0xfff0 + i)
				if err := roundTrip(rtpPacket(0, seq, uint32(i*160), 0xA11CE, 160)); err != nil {
					t.Fatalf("played frame seq %d: %v", seq, err)
				}
			}
			for i := range 40 {
				seq := uint16(0xffe0 + i)
				if err := roundTrip(rtpPacket(0, seq, uint32(i*160), 0xB0B, 160)); err != nil {
					t.Fatalf("relayed packet seq %d: %v", seq, err)
				}
				if i < 3 {
					if err := roundTrip(rtpPacket(0, uint16(0xfff0+40+i), uint32((40+i)*160), 0xA11CE, 160)); err != nil {
						t.Fatalf("late played frame: %v", err)
					}
				}
			}
			// The next played frame goes through; its replay is refused.
			next := uint16(0x1b) // 0xfff0+43 after the wrap
			enc, _ := tx.encrypt(nil, rtpPacket(0, next, 43*160, 0xA11CE, 160))
			if _, err := peer.DecryptRTP(nil, enc, nil); err != nil {
				t.Fatalf("played frame seq %d: %v", next, err)
			}
			if _, err := peer.DecryptRTP(nil, enc, nil); err == nil {
				t.Error("a replayed played frame was accepted")
			}
		})
	}
}
