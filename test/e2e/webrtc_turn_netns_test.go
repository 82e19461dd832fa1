package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// browserHost is a second host for a browser: network namespace name
// joined to this one by a veth pair, hostIP on this side, nsIP inside.
type browserHost struct {
	name, hostIP, nsIP string
}

// newBrowserHost creates namespace ob-wr-<net> with a veth pair
// ob-wr-<net>a (here, 10.250.<net>.1/30) / ob-wr-<net>b (inside,
// 10.250.<net>.2/30) and deletes both when the test ends, failed or not.
// The namespace has its own loopback, so 127.x addresses of this
// namespace (sbcd's media, its loopback signalling) are out of its reach.
func newBrowserHost(t *testing.T, net int) *browserHost {
	t.Helper()
	ip := RequireTool(t, "ip")
	h := &browserHost{name: fmt.Sprintf("ob-wr-%d", net),
		hostIP: fmt.Sprintf("10.250.%d.1", net), nsIP: fmt.Sprintf("10.250.%d.2", net)}
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	host, peer := h.name+"a", h.name+"b"
	// Left over from a run that was killed before its cleanup.
	_ = run("netns", "del", h.name)
	_ = run("link", "del", host)
	if out, _ := exec.Command(ip, "-o", "addr", "show").Output(); strings.Contains(string(out), " "+h.hostIP+"/") {
		t.Fatalf("%s is already in use on this machine", h.hostIP)
	}
	t.Cleanup(func() {
		_ = run("netns", "del", h.name) // takes the veth pair with it
		_ = run("link", "del", host)
	})
	for _, args := range [][]string{
		{"netns", "add", h.name},
		{"link", "add", host, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", h.name},
		{"addr", "add", h.hostIP + "/30", "dev", host},
		{"link", "set", host, "up"},
		{"-n", h.name, "addr", "add", h.nsIP + "/30", "dev", peer},
		{"-n", h.name, "link", "set", peer, "up"},
		{"-n", h.name, "link", "set", "lo", "up"},
	} {
		if err := run(args...); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// TestWebRTCBrowserBehindTURN: the browser runs in a network namespace of
// its own. It reaches sbcd's web page, WebSocket listener and TURN server
// over a veth link, but not sbcd's media address (a loopback address of
// sbcd's namespace): the only media path is the embedded TURN relay. The
// page may use any candidate (no relay-only policy); the call connects
// through TURN, the SIP side hears the browser's tone, the browser hears
// the SIP side's, and TURN's counters carry the call.
func TestWebRTCBrowserBehindTURN(t *testing.T) {
	const net = 106
	RequireTool(t, "chromium")
	h := newBrowserHost(t, net)
	topo := Topology{Net: net}
	w := &webrtcEnv{admin: h.hostIP + ":8443"}
	turnAddr := h.hostIP + ":3478"
	cert, err1 := filepath.Abs(filepath.Join("..", "..", "configs", "tls", "cert.pem"))
	key, err2 := filepath.Abs(filepath.Join("..", "..", "configs", "tls", "key.pem"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, net, func(c *policy.Config) {
		// A page from another host is a secure context only over https
		// (getUserMedia needs one): the phone comes from an https admin
		// listener and signals over wss, as in production.
		c.Admin.Address = w.admin
		c.Admin.CertFile, c.Admin.KeyFile = cert, key
		c.Admin.Tokens = []policy.AdminToken{{Name: "phones", Role: "read_only", SHA256: tokenHash("ro-token")}}
		r := &c.Realms[0]
		r.Registrar = true
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "wss",
			Address:  fmt.Sprintf("%s:%d", h.hostIP, wsPort),
			CertFile: cert, KeyFile: key,
			WebSocket: policy.WebSocketConfig{Origins: []string{"https://" + w.admin}}})
		c.TURN = policy.TURNConfig{
			Listeners: []policy.TURNListenerConfig{{Transport: "udp", Address: turnAddr}},
			// Relayed packets leave from sbcd's side, where the media is.
			RelayAddress: topo.ip(0, 1),
			Secret:       turnSecret,
			AllowPeers:   []string{fmt.Sprintf("127.%d.0.0/16", net)}, RelayPortMin: 41000, RelayPortMax: 41999,
		}
	})
	w.env = e
	w.wav = e.dir + "/tone.wav"
	if err := WriteToneWAV(w.wav, browserToneHz, 10); err != nil {
		t.Fatal(err)
	}
	w.peer = StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, peerToneHz)

	b := StartChromiumIn(t, h.name, fmt.Sprintf("https://%s/phone/?user=erin&processing=0", w.admin), w.wav,
		"--ignore-certificate-errors")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := b.WaitEval(`!!(window.phone && window.phone.ready)`, 15*time.Second); err != nil {
		var page string
		_ = b.Eval(ctx, `location.href + ' secure=' + isSecureContext + ': ' + document.body.innerText.slice(0, 300)`, &page)
		t.Fatalf("web phone not loaded in the browser's namespace: %v\npage: %s\n%s", err, page, b.Log())
	}
	if err := b.Eval(ctx, `window.phone.ready.then(() => { document.getElementById('token').value = 'ro-token'; return window.phone.register(); })`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEval(`window.phone.registration === 'registered'`, 15*time.Second); err != nil {
		t.Fatalf("no registration from the browser's namespace: %v\nevents: %s", err, events(b))
	}
	if err := b.Eval(ctx, `window.phone.call('1234')`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEval(`window.phone.state === 'confirmed'`, 15*time.Second); err != nil {
		t.Fatalf("call not confirmed: %v\nevents: %s", err, events(b))
	}

	// sbcd offered its media address; the browser cannot reach it.
	var answer string
	if err := b.Eval(ctx, `window.phone.sdp.remote_answer || ''`, &answer); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "c=IN IP4 "+topo.AccessIP()) {
		t.Errorf("sbcd's answer to the browser does not offer its media address %s:\n%s", topo.AccessIP(), answer)
	}
	w.checkTwoWayAudio(b)
	var st phoneStats
	if err := b.Eval(ctx, `window.phone.stats()`, &st); err != nil || !strings.HasPrefix(st.Pair, "relay->") {
		t.Errorf("candidate pair %q (%v), want the browser's relayed candidate (the only path)", st.Pair, err)
	}
	te := &turnEnv{env: e, turnAddr: turnAddr, admin: w.admin, https: true}
	if n := te.metric(t, "openborder_turn_allocations_total", ""); n < 1 {
		t.Errorf("TURN allocations = %v, want the browser's", n)
	}
	for _, dir := range []string{"to_peer", "from_peer"} {
		// Over 100 packets of 20 ms PCMU in SRTP each way: above 10 kB.
		if n := te.metric(t, "openborder_turn_relayed_bytes_total", `direction="`+dir+`"`); n < 20000 {
			t.Errorf("TURN relayed %v bytes %s, want the call's audio", n, dir)
		}
	}
	if err := b.Eval(ctx, `window.phone.hangup()`, nil); err != nil {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("browser events: %s", events(b))
	}
}
