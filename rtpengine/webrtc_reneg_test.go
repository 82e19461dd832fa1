package rtpengine

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestWebRTCPeerRenegotiationAddsVideo: a connected WebRTC call (audio)
// is renegotiated with a re-offer that adds a video m= line, as a browser
// does when the user turns the camera on. The audio keeps its port and its
// DTLS association (no new handshake, media keeps flowing) and the video
// line gets an answer the peer accepts, on a port of its own: sbcd anchors
// each m= line separately, so an answer with two accepted lines carries no
// BUNDLE group (a peer with bundlePolicy max-bundle would send the video
// on the audio's transport; that case is not handled).
func TestWebRTCPeerRenegotiationAddsVideo(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 43800, netip.Addr{}, nil)
	p, b := newPionPeer(t, webrtc.DTLSRoleAuto), newPeer(t)
	flagsOffer := Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}
	flagsAnswer := Flags{ICE: "force", RTCPMux: "accept"}
	call := func(offer string, answerTo func(toB []byte) []byte) (toB, toP []byte) {
		t.Helper()
		bundle, err := OfferBundle([]byte(offer))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := PlainSDP([]byte(offer))
		if err != nil {
			t.Fatal(err)
		}
		if toB, err = e.Offer(ctx, OfferRequest{CallID: "v", FromTag: "a", SDP: plain, Flags: flagsOffer}); err != nil {
			t.Fatal(err)
		}
		if toP, err = e.Answer(ctx, AnswerRequest{CallID: "v", FromTag: "a", ToTag: "b", SDP: answerTo(toB), Flags: flagsAnswer}); err != nil {
			t.Fatal(err)
		}
		if toP, err = bundle.Apply(toP); err != nil {
			t.Fatal(err)
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(toP)}); err != nil {
			t.Fatalf("peer refused the answer: %v\n%s", err, toP)
		}
		return toB, toP
	}
	// The plain side declares its SSRC (0xb0b, what exchange sends) so the
	// peer files its audio under the audio line it offered.
	toB, toP := call(p.offer(t, false), func([]byte) []byte { return peerSDP(b.addr.Port(), "sendrecv", "a=ssrc:2827 cname:plain") })
	p.exchange(t, b, lo(sdpMediaPorts(t, toB)[0]))
	handshakes := e.Metrics().Traffic.DTLSHandshakes

	if _, err := p.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	reoffer := p.offer(t, false)
	if !strings.Contains(reoffer, "m=video") {
		t.Fatalf("re-offer without video:\n%s", reoffer)
	}
	// The plain side answers audio and video, and refuses any other line.
	video := newPeer(t)
	answerTo := func(toB []byte) []byte {
		out := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		audio := false
		for _, l := range strings.Split(string(toB), "\r\n") {
			switch {
			case strings.HasPrefix(l, "m=audio") && !audio:
				audio = true
				out += "m=audio " + itoa(int(b.addr.Port())) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=ssrc:2827 cname:plain\r\n"
			case strings.HasPrefix(l, "m=video"):
				out += "m=video " + itoa(int(video.addr.Port())) + " RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n"
			case strings.HasPrefix(l, "m=audio"):
				out += "m=audio 0 RTP/AVP 0\r\n"
			}
		}
		return []byte(out)
	}
	toB2, toP2 := call(reoffer, answerTo)
	if !strings.Contains(string(toB2), "m=video") {
		t.Errorf("the plain side's re-offer has no video:\n%s", toB2)
	}
	if a1, a2 := sdpMediaPorts(t, toP)[0], sdpMediaPorts(t, toP2)[0]; a1 != a2 {
		t.Errorf("audio moved from port %d to %d on renegotiation", a1, a2)
	}
	if !regexp.MustCompile(`(?m)^m=video [1-9]\d* UDP/TLS/RTP/SAVPF 96`).Match(toP2) {
		t.Errorf("video not accepted in the answer to the re-offer:\n%s", toP2)
	}
	p.exchange(t, b, lo(sdpMediaPorts(t, toB2)[0])) // audio still flows both ways
	if got := e.Metrics().Traffic.DTLSHandshakes; got != handshakes {
		t.Errorf("renegotiation ran %d new DTLS handshakes, want 0", got-handshakes)
	}
}
