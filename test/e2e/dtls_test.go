package e2e

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/openborder/openborder/policy"
)

// TestDTLSSRTPPeerToPlainRTP: a WebRTC peer (pion/webrtc: ICE, DTLS-SRTP,
// rtcp-mux, BUNDLE) calls through the access realm to a plain RTP/AVP
// callee. sbcd answers the peer with ICE-lite and its own fingerprint,
// completes the DTLS handshake, and relays the peer's SRTP as RTP to the
// callee and the callee's echo back as SRTP: the peer's packets return.
func TestDTLSSRTPPeerToPlainRTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 75, func(c *policy.Config) {
		c.Realms[0].Media.SRTP = "webrtc"
		c.Realms[1].Media.SRTP = "none"
	})
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	ip := e.topo.CallerIP(0)

	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	// the SIP side's SSRC cannot be in sbcd's answer (the callee has not
	// sent yet): take the unsignalled stream as browsers do
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// pion gathers host candidates from interface addresses: on loopback
	// that is 127.0.0.1 only, which reaches sbcd's 127.75.x address too
	se.SetIPFilter(func(a net.IP) bool { return a.IsLoopback() && a.To4() != nil })
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	var echoed atomic.Int64
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			echoed.Add(1)
		}
	})
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offerSDP := gatheredOffer(t, pc)

	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "bob", e.topo.AccessSIP(), []byte(offerSDP))
	if err != nil {
		t.Fatalf("call: %v\n%s", err, e.sbcd.Dump(30))
	}
	ans := string(answer)
	for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=fingerprint:sha-256 ", "a=ice-lite", "a=candidate:", "a=rtcp-mux"} {
		if !strings.Contains(ans, want) {
			t.Errorf("answer to the WebRTC peer lacks %q:\n%s", want, ans)
		}
	}
	if strings.Contains(ans, "PCMA") || strings.Contains(ans, "telephone-event") {
		t.Errorf("answer lists codecs the peer never offered (it offered PCMU only):\n%s", ans)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatalf("peer refused sbcd's answer: %v\n%s", err, ans)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("ICE/DTLS with sbcd did not connect (state %s)\n%s", pc.ConnectionState(), e.sbcd.Dump(30))
	}

	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff
	}
	for i := range 50 {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i + 1), Timestamp: uint32(160 * (i + 1))}, Payload: payload}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := echoed.Load(); got < 35 {
		t.Errorf("peer got %d of 50 packets back through DTLS-SRTP <-> RTP, want most", got)
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Errorf("bye: %v", err)
	}
	er := callee.Wait(t)
	wantExit0(t, er)
	if inv := initialInvites(er, false); len(inv) == 1 {
		b := inv[0].Body
		if !strings.Contains(b, "RTP/AVP") || strings.Contains(b, "SAVP") || strings.Contains(b, "fingerprint") || strings.Contains(b, "candidate") {
			t.Errorf("plain-RTP callee got WebRTC SDP:\n%s", b)
		}
	}
	l, err := e.sbcd.CallEnded(caller.CallID(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rtpIn(t, l); a < 35 || b < 35 {
		t.Errorf("sbcd counted a_rtp_in=%d b_rtp_in=%d, want about 50 each", a, b)
	}
}
