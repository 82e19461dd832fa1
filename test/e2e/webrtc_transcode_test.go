//go:build cgo

package e2e

import (
	"context"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
)

// TestWebRTCOpusToPCMUTranscoded: a WebRTC peer (pion/webrtc: ICE,
// DTLS-SRTP, rtcp-mux, BUNDLE, Opus only, no RTP header extensions) calls
// through an access realm with srtp: webrtc to a trunk that takes only
// PCMU. sbcd terminates DTLS-SRTP and transcodes both ways. Each side
// sends its own tone and checks the other's after decoding: the callee
// decodes G.711, the peer decodes Opus. The peer does not take
// unsignalled streams (SetHandleUndeclaredSSRCWithoutAnswer off), so the
// SIP -> browser direction depends on sbcd's answer declaring the SSRC
// its transcoder sends from. Candidates the peer trickles after the call
// is up (SIP INFO, RFC 8840) are answered by sbcd and never reach the
// callee, and the audio keeps flowing.
func TestWebRTCOpusToPCMUTranscoded(t *testing.T) {
	t.Parallel()
	const net = 120
	const peerTone, calleeTone = 1000.0, 600.0
	topo := Topology{Net: net}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	cfg.Realms[0].Media.SRTP = "webrtc"
	cfg.Realms[0].Media.Codecs = []string{"opus"}
	cfg.Realms[1].Media.SRTP = "none"
	cfg.Trunks[0].Codecs = []string{"PCMU"}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	callee := StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, calleeTone)

	pc, track, heard := opusWebRTCPeer(t)
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offerSDP := gatheredOffer(t, pc)
	if sdp := offerSDP; !strings.Contains(sdp, "a=group:BUNDLE") || !strings.Contains(sdp, "a=rtcp-mux") {
		t.Fatalf("the peer's offer is not a BUNDLE/rtcp-mux offer:\n%s", sdp)
	}

	caller, err := NewGoCaller(topo.CallerIP(0), CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "bob", topo.AccessSIP(), []byte(offerSDP))
	if err != nil {
		t.Fatalf("call: %v\n%s", err, sbcd.Dump(30))
	}
	ans := string(answer)
	for _, want := range []string{"UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2", "a=fingerprint:sha-256 ",
		"a=ice-lite", "a=rtcp-mux", "a=group:BUNDLE", "a=ssrc:"} {
		if !strings.Contains(ans, want) {
			t.Errorf("answer to the WebRTC peer lacks %q:\n%s", want, ans)
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		t.Fatalf("peer refused sbcd's answer: %v\n%s", err, ans)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("ICE/DTLS with sbcd did not connect (state %s)\n%s", pc.ConnectionState(), sbcd.Dump(30))
	}
	if offers := callee.Offers(); len(offers) != 1 || !strings.Contains(offers[0], "RTP/AVP 0") ||
		strings.Contains(offers[0], "opus") || strings.Contains(offers[0], "fingerprint") {
		t.Errorf("PCMU-only callee got offers %q", offers)
	}

	// A candidate trickled after the call is up (RFC 8840 INFO), then
	// end-of-candidates: sbcd, ICE-lite on this leg, acknowledges them
	// and keeps them from the plain SIP callee.
	for _, frag := range []string{
		"a=ice-ufrag:late\r\na=ice-pwd:latelatelatelatelatelate\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
			"a=candidate:2 1 udp 1694498815 127.120.9.9 50000 typ srflx raddr 0.0.0.0 rport 0\r\n",
		"a=ice-ufrag:late\r\na=ice-pwd:latelatelatelatelatelate\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=end-of-candidates\r\n",
	} {
		res, err := caller.Info(ctx, "application/trickle-ice-sdpfrag", "Info-Package: trickle-ice\r\n", frag)
		if err != nil || res.Status() != 200 {
			t.Fatalf("trickle INFO: %d %v", res.Status(), err)
		}
	}

	// Two seconds of the peer's tone, as 20 ms Opus frames.
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := range 100 {
		<-tick.C
		n, err := enc.Encode(audiocheck.Sine(48000, i*960, 960, peerTone, 10000), buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := track.WriteSample(media.Sample{Data: buf[:n], Duration: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	time.Sleep(200 * time.Millisecond)
	if err := caller.Hangup(ctx); err != nil {
		t.Errorf("bye: %v", err)
	}

	if infos := callee.Infos(); len(infos) != 0 {
		t.Errorf("the plain callee got the browser's trickle INFOs: %q", infos)
	}
	callee.mu.Lock()
	atCallee := append([]int16(nil), callee.samples...)
	callee.mu.Unlock()
	atPeer := heard()
	for _, x := range []struct {
		who  string
		pcm  []int16
		rate int
		freq float64
	}{{"callee (PCMU) hears the WebRTC peer", atCallee, 8000, peerTone}, {"WebRTC peer (Opus) hears the callee", atPeer, 48000, calleeTone}} {
		if len(x.pcm) < x.rate {
			t.Errorf("%s: only %d samples decoded, want over a second\n%s", x.who, len(x.pcm), sbcd.Dump(20))
			continue
		}
		got := audiocheck.Analyse(x.pcm[len(x.pcm)-x.rate:], x.rate)
		t.Logf("%s: %.2f Hz SNR %.1f dB", x.who, got.Freq, got.SNR)
		if math.Abs(got.Freq-x.freq) > 1 || got.SNR < 20 {
			t.Errorf("%s: %.2f Hz SNR %.1f dB; want %.0f Hz, SNR >= 20 dB", x.who, got.Freq, got.SNR, x.freq)
		}
	}
	l, err := sbcd.CallEnded(caller.CallID(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rtpIn(t, l); a < 80 || b < 80 {
		t.Errorf("sbcd counted a_rtp_in=%d b_rtp_in=%d, want about 100 each", a, b)
	}
}

// opusWebRTCPeer is a pion peer connection that offers Opus only, on
// loopback, with a track to send on and a function returning the 48 kHz
// audio it decoded from what it received.
func opusWebRTCPeer(t *testing.T) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticSample, func() []int16) {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(a net.IP) bool { return a.IsLoopback() && a.To4() != nil })
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoder(opus.DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pcm []int16
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		out := make([]int16, 5760)
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if !strings.EqualFold(tr.Codec().MimeType, webrtc.MimeTypeOpus) {
				continue
			}
			k, err := dec.Decode(p.Payload, out)
			if err != nil {
				continue
			}
			mu.Lock()
			pcm = append(pcm, out[:k]...)
			mu.Unlock()
		}
	})
	return pc, track, func() []int16 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int16(nil), pcm...)
	}
}

// gatheredOffer makes pc's offer, sets it as the local description and
// waits for ICE gathering: the SDP to send, every candidate in it.
func gatheredOffer(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}
