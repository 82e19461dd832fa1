//go:build cgo

package e2e

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/audiocheck"
)

// TestWebRTCCallerHearsRingback: a WebRTC caller (pion/webrtc: ICE,
// DTLS-SRTP, rtcp-mux, BUNDLE, Opus only) calls a PCMU trunk whose callee
// rings (180 without SDP) for 2.5 s. sbcd answers the browser in the 180
// itself (ICE-lite, its fingerprint, the SSRC it plays from) and plays the
// FR ringback (440 Hz, 1.5 s on, 3.5 s off) in Opus over DTLS-SRTP once
// the browser's checks and handshake are done. The browser decodes it and
// measures the frequency and the end of the burst; the 200 keeps the
// 180's ICE credentials and DTLS fingerprint (one association).
func TestWebRTCCallerHearsRingback(t *testing.T) {
	t.Parallel()
	const netN = 136
	e := newGoEnv(t, netN, func(cfg *policy.Config) {
		cfg.Realms[0].Media.SRTP = "webrtc"
		cfg.Realms[0].Media.Codecs = []string{"opus"}
		cfg.Realms[0].Media.Tones = "FR"
		cfg.Realms[0].Media.Ringback = policy.RingbackLocal
		cfg.Realms[1].Media.SRTP = "none"
		cfg.Trunks[0].Codecs = []string{"PCMU"}
	})
	topo, sbcd := e.topo, e.sbcd
	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	callee := newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)
	callee.ring = 2500 * time.Millisecond

	pc, _, heard := opusWebRTCPeer(t)
	connected := make(chan time.Time, 1)
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { connected <- time.Now() })
		}
	})
	offerSDP := gatheredOffer(t, pc)

	caller, err := NewGoCaller(topo.CallerIP(0), CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	var early string
	var ringing time.Time
	caller.Provisional = func(m Message) {
		if early != "" || m.Status() != 180 || !strings.Contains(m.Body, "m=audio") {
			return
		}
		early, ringing = m.Body, time.Now()
		for _, want := range []string{"UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2", "a=fingerprint:sha-256 ",
			"a=ice-lite", "a=candidate:", "a=rtcp-mux", "a=group:BUNDLE", "a=mid:", "a=ssrc:"} {
			if !strings.Contains(early, want) {
				t.Errorf("180 to the WebRTC caller lacks %q:\n%s", want, early)
			}
		}
		// The browser takes the early answer as its answer.
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: early}); err != nil {
			t.Errorf("the browser refused the 180's answer: %v\n%s", err, early)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := caller.Invite(ctx, "bob", topo.AccessSIP(), []byte(offerSDP))
	if err != nil {
		t.Fatalf("INVITE: %v\n%s", err, sbcd.Dump(30))
	}
	answered := time.Now()
	before := heard() // what the browser decoded until the 200
	if res.Status() != 200 {
		t.Fatalf("final response %d, want 200", res.Status())
	}
	if early == "" {
		t.Fatalf("no 180 with SDP reached the WebRTC caller\n%s", sbcd.Dump(30))
	}
	for _, k := range []string{"a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:"} {
		if a, b := sdpValue(early, k), sdpValue(res.Body, k); a == "" || a != b {
			t.Errorf("%s in the 180 %q, in the 200 %q: want one ICE/DTLS association", k, a, b)
		}
	}
	_ = caller.Hangup(ctx)

	var up time.Time
	select {
	case up = <-connected:
	default:
		t.Fatalf("ICE/DTLS with sbcd did not connect during the ringing (state %s)\n%s", pc.ConnectionState(), sbcd.Dump(30))
	}
	runs := runsAt(before, 960)
	t.Logf("connected %v after the 180; 200 after %v; %d ms of audio decoded before it, runs %v",
		up.Sub(ringing).Round(time.Millisecond), answered.Sub(ringing).Round(time.Millisecond), len(before)/48, runs)
	// The burst started at the 180 (its first frames went before the
	// keys existed) and lasts 1.5 s from there; silence follows up to the
	// 200, 2.5 s after the 180.
	if len(runs) < 2 || runs[0] < 25 || runs[0] > 76 {
		t.Fatalf("tone runs %v (20 ms frames): want one burst ending 1.5 s after the 180, then silence", runs)
	}
	if !near(runs[1], 49, 4) {
		t.Errorf("silence after the burst: %d frames, want about 50: the burst ends 1.5 s after the 180, the 200 comes 1 s later", runs[1])
	}
	start := 0 // the burst's first frame
	for start+960 <= len(before) && runsAt(before[start:start+960], 960)[0] == 0 {
		start += 960 // silent: runsAt of one frame is [1] if it is loud
	}
	burst := before[start : start+runs[0]*960]
	// Half a second before the burst's end (the last frames hold the
	// tone's end and the decoder's decay).
	got := audiocheck.Analyse(burst[len(burst)-27*960:len(burst)-2*960], 48000)
	t.Logf("ringback at the browser: %.2f Hz, SNR %.1f dB", got.Freq, got.SNR)
	if math.Abs(got.Freq-440) > 2 || got.SNR < 20 {
		t.Errorf("ringback %.2f Hz SNR %.1f dB; want 440 Hz (FR), SNR >= 20 dB", got.Freq, got.SNR)
	}
}

// sdpValue returns the value of the first SDP line with the prefix.
func sdpValue(body, prefix string) string {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return v
		}
	}
	return ""
}
