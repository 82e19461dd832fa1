package rtpengine

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// pionPeer is a WebRTC endpoint (pion/webrtc: full ICE agent, DTLS-SRTP,
// rtcp-mux, BUNDLE, PCMU) on loopback that counts the RTP it receives.
type pionPeer struct {
	pc        *webrtc.PeerConnection
	track     *webrtc.TrackLocalStaticSample
	received  atomic.Int64
	connected chan struct{}
}

// newPionPeer makes a peer; answerRole sets the DTLS role it takes when it
// answers (webrtc.DTLSRoleAuto: pion's default, active).
func newPionPeer(t *testing.T, answerRole webrtc.DTLSRole) *pionPeer {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(a net.IP) bool { return a.IsLoopback() && a.To4() != nil })
	// The plain side's SSRC is in no answer sbcd relays: take the
	// unsignalled stream as browsers do.
	se.SetHandleUndeclaredSSRCWithoutAnswer(true)
	if answerRole != webrtc.DTLSRoleAuto {
		if err := se.SetAnsweringDTLSRole(answerRole); err != nil {
			t.Fatal(err)
		}
	}
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &pionPeer{pc: pc, connected: make(chan struct{})}
	if p.track, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(p.track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
		}
	})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(p.connected) })
		}
	})
	return p
}

// offer returns the peer's offer: with every candidate, or (trickle) as
// soon as it is set, before any candidate is gathered.
func (p *pionPeer) offer(t *testing.T, trickle bool) string {
	t.Helper()
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	if trickle {
		return o.SDP
	}
	<-gathered
	return p.pc.LocalDescription().SDP
}

// exchange checks that the call carries media both ways between the pion
// peer and the plain peer b, whose packets go to sbcd at sbcB.
func (p *pionPeer) exchange(t *testing.T, b *peer, sbcB netip.AddrPort) {
	t.Helper()
	select {
	case <-p.connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("ICE/DTLS with the engine did not connect (state %s)", p.pc.ConnectionState())
	}
	payload := make([]byte, 160)
	var atB int
	base := p.received.Load()
	for i := 0; i < 100 && (atB < 5 || p.received.Load()-base < 5); i++ {
		if err := p.track.WriteSample(media.Sample{Data: payload, Duration: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		b.send(rtpPacket(0, uint16(i+1), uint32(160*(i+1)), 0xb0b, 160), sbcB)
		for {
			m, _, ok := b.recv(20 * time.Millisecond)
			if !ok {
				break
			}
			if len(m) >= 12 && m[1]&0x7f == 0 {
				atB++
			}
		}
	}
	if atB < 5 || p.received.Load()-base < 5 {
		t.Fatalf("media: %d RTP packets reached the plain peer, %d the WebRTC peer; want 5 each", atB, p.received.Load()-base)
	}
}

func setupOf(sdp string) string {
	for _, l := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=setup:"); ok {
			return v
		}
	}
	return ""
}

// TestWebRTCPeerDTLSRoles: DTLS role negotiation (RFC 5763 section 5,
// RFC 8842) with a real WebRTC stack, both ways. As answerer the engine
// answers a=setup:passive to actpass and active offers and active to a
// passive one; as offerer it offers actpass and takes the server or
// client role the peer's answer leaves it. A trickle-ICE offer (no
// candidates, c=0.0.0.0, candidates left to arrive later) connects too:
// the engine is ICE-lite and learns the peer from its checks. Every case
// carries RTP both ways through DTLS-SRTP.
func TestWebRTCPeerDTLSRoles(t *testing.T) {
	answerer := []struct {
		name, offered, want string
		trickle             bool
	}{
		{"peer offers actpass", "actpass", "passive", false},
		{"peer offers active", "active", "passive", false},
		{"peer offers passive", "passive", "active", false},
		{"trickle offer without candidates", "actpass", "passive", true},
	}
	for i, tc := range answerer {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newTestEngine(t, 43560+40*i, netip.Addr{}, nil)
			p, b := newPionPeer(t, webrtc.DTLSRoleAuto), newPeer(t)
			offer := p.offer(t, tc.trickle)
			if tc.trickle && (strings.Contains(offer, "a=candidate:") || !strings.Contains(offer, "c=IN IP4 0.0.0.0")) {
				t.Fatalf("not a trickle offer:\n%s", offer)
			}
			offer = strings.Replace(offer, "a=setup:actpass", "a=setup:"+tc.offered, 1)
			bundle, err := OfferBundle([]byte(offer))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := PlainSDP([]byte(offer))
			if err != nil {
				t.Fatal(err)
			}
			toB, err := e.Offer(ctx, OfferRequest{CallID: "r", FromTag: "a", SDP: plain,
				Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(toB), "c=IN IP4 0.0.0.0") || strings.Contains(string(toB), "cryptex") {
				t.Errorf("the plain side was offered the trickle placeholder address or cryptex:\n%s", toB)
			}
			ans, err := e.Answer(ctx, AnswerRequest{CallID: "r", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv"),
				Flags: Flags{ICE: "force", RTCPMux: "accept"}})
			if err != nil {
				t.Fatal(err)
			}
			if ans, err = bundle.Apply(ans); err != nil {
				t.Fatal(err)
			}
			if got := setupOf(string(ans)); got != tc.want {
				t.Fatalf("offer a=setup:%s answered a=setup:%s, want %s:\n%s", tc.offered, got, tc.want, ans)
			}
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(ans)}); err != nil {
				t.Fatalf("peer refused the answer: %v\n%s", err, ans)
			}
			p.exchange(t, b, lo(sdpMediaPorts(t, toB)[0]))
		})
	}

	offerer := []struct {
		name string
		role webrtc.DTLSRole
		want string // the peer's a=setup
	}{
		{"peer answers active", webrtc.DTLSRoleClient, "active"},
		{"peer answers passive", webrtc.DTLSRoleServer, "passive"},
	}
	for i, tc := range offerer {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newTestEngine(t, 43720+40*i, netip.Addr{}, nil)
			p, b := newPionPeer(t, tc.role), newPeer(t)
			toP, err := e.Offer(ctx, OfferRequest{CallID: "o", FromTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv"),
				Flags: Flags{FromInterface: "core", ToInterface: "access", TransportProtocol: "UDP/TLS/RTP/SAVPF", ICE: "force", RTCPMux: "offer"}})
			if err != nil {
				t.Fatal(err)
			}
			if toP, err = NumberedBundle(toP); err != nil {
				t.Fatal(err)
			}
			if got := setupOf(string(toP)); got != "actpass" {
				t.Fatalf("engine offered a=setup:%s, want actpass:\n%s", got, toP)
			}
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(toP)}); err != nil {
				t.Fatalf("peer refused the offer: %v\n%s", err, toP)
			}
			a, err := p.pc.CreateAnswer(nil)
			if err != nil {
				t.Fatal(err)
			}
			gathered := webrtc.GatheringCompletePromise(p.pc)
			if err := p.pc.SetLocalDescription(a); err != nil {
				t.Fatal(err)
			}
			<-gathered
			ans := p.pc.LocalDescription().SDP
			if got := setupOf(ans); got != tc.want {
				t.Fatalf("peer answered a=setup:%s, want %s", got, tc.want)
			}
			plain, err := PlainSDP([]byte(ans))
			if err != nil {
				t.Fatal(err)
			}
			toB, err := e.Answer(ctx, AnswerRequest{CallID: "o", FromTag: "b", ToTag: "a", SDP: plain})
			if err != nil {
				t.Fatal(err)
			}
			p.exchange(t, b, lo(sdpMediaPorts(t, toB)[0]))
		})
	}
}
