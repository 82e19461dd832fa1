package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/openborder/openborder/policy"
)

// WebRTC tests use nets 45-49.
const (
	browserToneHz = 440
	peerToneHz    = 1000
	wsPort        = 8088
)

// webrtcEnv is sbcd with a WebSocket listener on the access realm (a
// registrar), the web phone on the admin listener, and a Go SIP peer with
// G.711 media as the PBX.
type webrtcEnv struct {
	*env
	admin string
	wav   string
	peer  *RTPPeer
}

func newWebRTCEnv(t *testing.T, net int, mutate func(*policy.Config)) *webrtcEnv {
	t.Helper()
	RequireTool(t, "chromium")
	topo := Topology{Net: net}
	w := &webrtcEnv{admin: fmt.Sprintf("127.%d.0.1:8080", net)}
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin.Address = w.admin
		r := &c.Realms[0]
		r.Registrar = true
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "ws",
			Address: fmt.Sprintf("%s:%d", topo.AccessIP(), wsPort),
			// Pings every second: the browser must answer them all call long.
			WebSocket: policy.WebSocketConfig{Origins: []string{"http://" + w.admin}, PingInterval: time.Second}})
		c.Routes = append(c.Routes, policy.RouteConfig{Name: "core-in",
			Match: policy.MatchConfig{SourceRealm: "core"}, Registered: "access"})
		if mutate != nil {
			mutate(c)
		}
	})
	w.env = e
	w.wav = filepath.Join(e.dir, "tone.wav")
	if err := WriteToneWAV(w.wav, browserToneHz, 10); err != nil {
		t.Fatal(err)
	}
	w.peer = StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, peerToneHz)
	return w
}

// phone opens the web phone in a fresh browser, registered as user.
func (w *webrtcEnv) phone(user, extra string) *Browser {
	w.t.Helper()
	b := StartChromium(w.t, fmt.Sprintf("http://%s/phone/?user=%s&register=1&processing=0%s", w.admin, user, extra), w.wav)
	if err := b.WaitEval(`window.phone && window.phone.registration === 'registered'`, 15*time.Second); err != nil {
		w.t.Fatalf("web phone did not register: %v\nevents: %s", err, events(b))
	}
	return b
}

func events(b *Browser) string {
	var ev []string
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := b.Eval(ctx, `window.phone ? window.phone.events : []`, &ev); err != nil {
		return err.Error()
	}
	var sdp map[string]string
	_ = b.Eval(ctx, `window.phone.sdp || {}`, &sdp)
	return fmt.Sprintf("%q\nSDP: %v", ev, sdp)
}

// phoneStats is what window.phone.stats() reports.
type phoneStats struct {
	State           string  `json:"state"`
	PacketsReceived int     `json:"packetsReceived"`
	PacketsSent     int     `json:"packetsSent"`
	Codec           string  `json:"codec"`
	Pair            string  `json:"pair"`
	AudioLevel      float64 `json:"audioLevel"`
	Remote          struct {
		RMS    float64 `json:"rms"`
		PeakHz float64 `json:"peakHz"`
	} `json:"remote"`
}

// checkTwoWayAudio waits until the SIP peer hears the browser's tone and
// the browser hears the peer's.
func (w *webrtcEnv) checkTwoWayAudio(b *Browser) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var pkts int
	var share float64
	for time.Now().Before(deadline) {
		if pkts, share = w.peer.Received(browserToneHz); pkts > 100 && share > 0.5 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pkts <= 100 || share <= 0.5 {
		w.t.Errorf("SIP side: %d PCMU packets, %.2f of the energy at %d Hz; want > 100 packets, > 0.5",
			pkts, share, browserToneHz)
	}
	var st phoneStats
	for time.Now().Before(deadline.Add(5 * time.Second)) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := b.Eval(ctx, `window.phone.stats()`, &st)
		cancel()
		if err == nil && st.PacketsReceived > 100 && math.Abs(st.Remote.PeakHz-peerToneHz) < 30 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.PacketsReceived <= 100 || math.Abs(st.Remote.PeakHz-peerToneHz) >= 30 || st.Remote.RMS < 0.01 {
		w.t.Errorf("browser: %+v; want > 100 packets and the loudest frequency near %d Hz", st, peerToneHz)
	}
	if st.Codec != "audio/PCMU" {
		w.t.Errorf("browser codec %q, want audio/PCMU (no transcoding on this path)", st.Codec)
	}
}

func TestWebRTCBrowserCallsSIP(t *testing.T) {
	// The SIP side takes digits as INFO (trunk dtmf: info): the browser's
	// RFC 4733 events reach it as INFO requests.
	w := newWebRTCEnv(t, 45, func(c *policy.Config) {
		for i := range c.Trunks {
			c.Trunks[i].DTMF = policy.DTMFInfo
		}
	})
	b := w.phone("alice", "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := b.Eval(ctx, `window.phone.call('1234')`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEval(`window.phone.state === 'confirmed'`, 15*time.Second); err != nil {
		t.Fatalf("call not confirmed: %v\nevents: %s", err, events(b))
	}
	if n := w.peer.invites.Load(); n != 1 {
		t.Errorf("SIP peer got %d INVITEs, want 1", n)
	}
	w.checkTwoWayAudio(b)

	// Hold and resume reach the SIP side as re-INVITEs; DTMF as INFO.
	if err := b.Eval(ctx, `window.phone.hold()`, nil); err != nil {
		t.Fatal(err)
	}
	w.waitOffer(2, "a=sendonly")
	if err := b.Eval(ctx, `window.phone.unhold()`, nil); err != nil {
		t.Fatal(err)
	}
	w.waitOffer(3, "a=sendrecv")
	if err := b.Eval(ctx, `window.phone.dtmf('5')`, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.peer.Infos()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if infos := w.peer.Infos(); len(infos) != 1 || !strings.Contains(infos[0], "Signal=5") {
		t.Errorf("SIP side got INFO bodies %q, want one with Signal=5", infos)
	}

	// Mute silences the browser's microphone on the SIP side; unmute brings it back.
	if err := b.Eval(ctx, `window.phone.mute()`, nil); err != nil {
		t.Fatal(err)
	}
	w.waitTone(false)
	if err := b.Eval(ctx, `window.phone.unmute()`, nil); err != nil {
		t.Fatal(err)
	}
	w.waitTone(true)

	// ICE restart: new credentials both ways, and the audio keeps flowing.
	var before phoneStats
	_ = b.Eval(ctx, `window.phone.stats()`, &before)
	var oldUfrag string
	_ = b.Eval(ctx, `(window.phone.sdp.remote_answer.match(/a=ice-ufrag:(\S+)/) || [])[1]`, &oldUfrag)
	if err := b.Eval(ctx, `window.phone.restartIce()`, nil); err != nil {
		t.Fatal(err)
	}
	w.waitOffer(4, "a=sendrecv")
	if err := b.WaitEval(`(window.phone.sdp.remote_answer.match(/a=ice-ufrag:(\S+)/) || [])[1] !== `+
		fmt.Sprintf("%q", oldUfrag), 5*time.Second); err != nil {
		t.Errorf("ICE restart: sbcd kept its ufrag %s: %v", oldUfrag, err)
	}
	if err := b.WaitEval(fmt.Sprintf(`window.phone.stats().then(s => s.packetsReceived > %d + 50)`, before.PacketsReceived), 5*time.Second); err != nil {
		t.Errorf("no audio after the ICE restart: %v", err)
	}

	if err := b.Eval(ctx, `window.phone.hangup()`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEval(`window.phone.state === 'ended'`, 5*time.Second); err != nil {
		t.Error(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for w.peer.byes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := w.peer.byes.Load(); n != 1 {
		t.Errorf("SIP peer got %d BYEs, want 1", n)
	}
	if t.Failed() {
		t.Logf("browser events: %s", events(b))
	}
}

// waitTone waits until the SIP side's last second of audio holds the
// browser's tone (present) or not (muted).
func (w *webrtcEnv) waitTone(present bool) {
	w.t.Helper()
	var share float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, share = w.peer.Received(browserToneHz); (share > 0.5) == present {
			return
		}
	}
	w.t.Errorf("SIP side: %.2f of the energy at %d Hz, want the tone present=%v", share, browserToneHz, present)
}

// waitOffer waits for the SIP side's n-th INVITE and checks its SDP.
func (w *webrtcEnv) waitOffer(n int, want string) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.peer.Offers()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	offers := w.peer.Offers()
	if len(offers) < n {
		w.t.Fatalf("SIP side got %d INVITEs, want %d", len(offers), n)
	}
	if !strings.Contains(offers[n-1], want) {
		w.t.Errorf("INVITE %d SDP lacks %s:\n%s", n, want, offers[n-1])
	}
	if strings.Contains(offers[n-1], "a=ssrc") || strings.Contains(offers[n-1], "UDP/TLS") {
		w.t.Errorf("INVITE %d carries browser-only SDP:\n%s", n, offers[n-1])
	}
}

// TestWebRTCSecureAndRelayed: WebSocket refusals at the upgrade, then a
// browser over wss whose media may only go through sbcd's TURN server
// (iceTransportPolicy relay, credentials from the admin API).
func TestWebRTCSecureAndRelayed(t *testing.T) {
	const wssPort = 8089
	var turnAddr string
	cert, err1 := filepath.Abs(filepath.Join("..", "..", "configs", "tls", "cert.pem"))
	key, err2 := filepath.Abs(filepath.Join("..", "..", "configs", "tls", "key.pem"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	w := newWebRTCEnv(t, 49, func(c *policy.Config) {
		topo := Topology{Net: 49}
		turnAddr = topo.ip(0, 1) + ":3478"
		c.Admin.Tokens = []policy.AdminToken{{Name: "phones", Role: "read_only", SHA256: tokenHash("ro-token")}}
		r := &c.Realms[0]
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "wss",
			Address:  fmt.Sprintf("%s:%d", topo.AccessIP(), wssPort),
			CertFile: cert, KeyFile: key,
			WebSocket: policy.WebSocketConfig{Origins: r.Listeners[1].WebSocket.Origins}})
		c.TURN = policy.TURNConfig{
			Listeners:  []policy.TURNListenerConfig{{Transport: "udp", Address: turnAddr}, {Transport: "tcp", Address: turnAddr}},
			Secret:     turnSecret,
			AllowPeers: []string{"127.49.0.0/16"}, RelayPortMin: 40000, RelayPortMax: 40999,
		}
	})
	t.Run("websocket refusals", func(t *testing.T) {
		url := fmt.Sprintf("ws://%s:%d", w.topo.AccessIP(), wsPort)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, tc := range []struct {
			name   string
			d      ws.Dialer
			status int
		}{
			{"foreign origin", ws.Dialer{Protocols: []string{"sip"},
				Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {"http://evil.example"}})}, 403},
			{"no sip subprotocol", ws.Dialer{Protocols: []string{"chat"}}, 400},
			{"allowed origin", ws.Dialer{Protocols: []string{"sip"},
				Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {"http://" + w.admin}})}, 101},
		} {
			conn, _, _, err := tc.d.Dial(ctx, url)
			var se ws.StatusError
			switch {
			case tc.status == 101 && err != nil:
				t.Errorf("%s: %v", tc.name, err)
			case tc.status != 101 && (!errors.As(err, &se) || int(se) != tc.status):
				t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.status)
			}
			if conn != nil {
				conn.Close()
			}
		}
	})
	t.Run("wss and TURN only", func(t *testing.T) {
		b := StartChromium(t, fmt.Sprintf("http://%s/phone/?user=carol&processing=0&relay=1&ws=wss://%s:%d",
			w.admin, w.topo.AccessIP(), wssPort), w.wav, "--ignore-certificate-errors")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := b.WaitEval(`!!(window.phone && window.phone.ready)`, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := b.Eval(ctx, `window.phone.ready.then(() => { document.getElementById('token').value = 'ro-token'; return window.phone.register(); })`, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitEval(`window.phone.registration === 'registered'`, 15*time.Second); err != nil {
			t.Fatalf("no registration over wss: %v\nevents: %s", err, events(b))
		}
		if err := b.Eval(ctx, `window.phone.call('1234')`, nil); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitEval(`window.phone.state === 'confirmed'`, 15*time.Second); err != nil {
			t.Fatalf("call not confirmed: %v\nevents: %s", err, events(b))
		}
		w.checkTwoWayAudio(b)
		var st phoneStats
		if err := b.Eval(ctx, `window.phone.stats()`, &st); err != nil || !strings.HasPrefix(st.Pair, "relay->") {
			t.Errorf("candidate pair %q (%v), want the browser's relayed candidate", st.Pair, err)
		}
		if err := b.Eval(ctx, `window.phone.hangup()`, nil); err != nil {
			t.Error(err)
		}
		te := &turnEnv{env: w.env, turnAddr: turnAddr, admin: w.admin}
		if n := te.metric(t, "openborder_turn_relayed_bytes_total", `direction="to_peer"`); n < 10000 {
			t.Errorf("TURN relayed %v bytes to sbcd's media port, want the call's audio", n)
		}
		if n := te.metric(t, "openborder_websocket_accepted_total", `transport="WSS"`); n < 1 {
			t.Errorf("wss connections accepted = %v", n)
		}
		if t.Failed() {
			t.Logf("browser events: %s", events(b))
		}
	})
}

func TestWebRTCSIPCallsBrowser(t *testing.T) {
	w := newWebRTCEnv(t, 46, nil)
	b := w.phone("bob", "&autoanswer=1")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := w.peer.Call(ctx, "bob", w.topo.CoreSIP()); err != nil {
		t.Fatalf("SIP -> browser: %v\nevents: %s", err, events(b))
	}
	if err := b.WaitEval(`window.phone.state === 'confirmed'`, 10*time.Second); err != nil {
		t.Fatalf("browser: %v\nevents: %s", err, events(b))
	}
	w.checkTwoWayAudio(b)
	if err := w.peer.Hangup(ctx); err != nil {
		t.Errorf("BYE from the SIP side: %v", err)
	}
	if err := b.WaitEval(`window.phone.state === 'ended'`, 5*time.Second); err != nil {
		t.Errorf("browser did not see the hangup: %v", err)
	}
	// The browser answered every keep-alive Ping sbcd sent during the call.
	te := &turnEnv{env: w.env, admin: w.admin}
	if n := te.metric(t, "openborder_websocket_pings_total", `transport="WS"`); n < 1 {
		t.Errorf("no keep-alive pings sent to the browser")
	}
	if n := te.metric(t, "openborder_websocket_refusals_total", `reason="pong_timeout"`); n != 0 {
		t.Errorf("%v browser connections closed for a missing pong", n)
	}
	if t.Failed() {
		t.Logf("browser events: %s", events(b))
	}
}
