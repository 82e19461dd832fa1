package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// transportsOf returns, per Call-ID, the transports named in the frames'
// comments, and checks that every SIP frame was decoded from the stack
// the transport implies (TCP segments for TCP and TLS, UDP for UDP).
func transportsOf(t *testing.T, frames []sipFrame) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, f := range frames {
		tr := ""
		for _, w := range strings.Fields(f.comment) {
			if v, ok := strings.CutPrefix(w, "transport="); ok {
				tr = v
			}
		}
		if out[f.callID] == nil {
			out[f.callID] = map[string]bool{}
		}
		out[f.callID][tr] = true
		stack := ":udp:sip"
		if tr == "tcp" || tr == "tls" {
			stack = ":tcp:sip"
		}
		if !strings.Contains(f.protocols, stack) {
			t.Errorf("%s frame of %s decoded as %s, want %s", tr, f.callID, f.protocols, stack)
		}
	}
	return out
}

// SIP that sbcd received and sent over TCP and WebSocket is in the
// capture as TCP segments that tshark reassembles and decodes as SIP, for
// both legs.
func TestCaptureOfTCPAndWebSocketCalls(t *testing.T) {
	t.Parallel()
	const net = 128
	c := newCapEnv(t, net, func(cfg *policy.Config) {
		withTCP(cfg)
		r := &cfg.Realms[0]
		r.Registrar = true
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "ws",
			Address: fmt.Sprintf("%s:%d", Topology{Net: net}.AccessIP(), wsPort)})
		cfg.Routes = append(cfg.Routes, policy.RouteConfig{Name: "core-in",
			Match: policy.MatchConfig{SourceRealm: "core"}, Registered: "access"})
	})
	id := c.start("realm:access")
	tcp := func(o *SippOpts) { o.Transport = "tcp" }
	callee := c.callee("callee", "uas_basic.xml", 0, tcp)
	caller := c.caller("caller", "uac_basic.xml", 0, tcp)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	c.callEnded(cr)
	time.Sleep(300 * time.Millisecond)
	frames := c.sipFrames(c.fetch(id))
	c.wantWholeDialogs(frames)
	for callID, trs := range transportsOf(t, frames) {
		if len(trs) != 1 || !trs["tcp"] {
			t.Errorf("Call-ID %s captured with transports %v, want tcp", callID, trs)
		}
	}
	captureWebSocketLeg(t, c)
}

// The B leg goes to a gateway over TLS: its SIP is in the capture in
// clear, as TCP segments tshark decodes as SIP with the leg's Call-ID.
func TestCaptureOfTLSCall(t *testing.T) {
	t.Parallel()
	const net = 129
	topo := Topology{Net: net}
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey := filepath.Join(dir, "sbc.pem"), filepath.Join(dir, "sbc.key")
	ca.issue(t, 100, "sbc-1", srvCert, srvKey, topo.AccessIP(), topo.CoreIP())
	gwCert := ca.issue(t, 200, "gateway", "", "", topo.GatewayIP(0))
	c := newCapEnv(t, net, func(cfg *policy.Config) {
		cfg.Realms[1].Listeners = append(cfg.Realms[1].Listeners, policy.ListenerConfig{Transport: "tls",
			Address: fmt.Sprintf("%s:%d", topo.CoreIP(), 5081), CertFile: srvCert, KeyFile: srvKey})
		cfg.Trunks[0].TLS = policy.TrunkTLSConfig{CAFile: caFile, RequireClientCert: true}
		cfg.Trunks[0].Gateways[0].Transport = "tls"
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	gw := startTLSGateway(t, topo.Gateway(0), gwCert, roots)
	id := c.start("trunk:pbx")
	uac := c.caller("uac", "uac_basic.xml", 0, func(o *SippOpts) { o.Service = "5000" })
	wantExit0(t, uac.Wait(t))
	if got := strings.Join(gw.methods(), ","); got != "INVITE,ACK,BYE" {
		t.Fatalf("gateway got %v over TLS", got)
	}
	time.Sleep(300 * time.Millisecond)
	file := c.fetch(id)
	frames := c.sipFrames(file)
	realms := c.wantWholeDialogs(frames)
	trs := transportsOf(t, frames)
	for callID, realm := range realms {
		want := "udp"
		if realm == "core" {
			want = "tls"
		}
		if len(trs[callID]) != 1 || !trs[callID][want] {
			t.Errorf("%s leg %s captured with transports %v, want %s", realm, callID, trs[callID], want)
		}
	}
}

// A call from the core side to a phone registered over WebSocket: the
// phone's leg (INVITE, 486 over WS) is in the capture as plaintext SIP in
// TCP segments, with the leg's Call-ID, next to the UDP leg.
func captureWebSocketLeg(t *testing.T, c *capEnv) {
	topo := c.topo
	p := dialWSPhone(t, fmt.Sprintf("ws://%s:%d", topo.AccessIP(), wsPort))
	if res := p.register(t, "erin", topo.AccessIP()); res.Status() != 200 {
		t.Fatalf("REGISTER answered %d", res.Status())
	}
	id := c.start("number:erin")
	caller, err := NewGoCaller(topo.GatewayIP(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	offer := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
		topo.GatewayIP(1), CalleeMediaPort)
	res, err := caller.Invite(ctx, "erin", topo.CoreSIP(), []byte(offer))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if res.Status() != 486 {
		t.Fatalf("call to the WebSocket phone answered %d, want its 486", res.Status())
	}
	time.Sleep(500 * time.Millisecond)
	frames := c.sipFrames(c.fetch(id), "-o", "tcp.try_heuristic_first:TRUE")
	per := map[string]map[string]bool{}
	for _, f := range frames {
		tr := ""
		for _, w := range strings.Fields(f.comment) {
			if v, ok := strings.CutPrefix(w, "transport="); ok {
				tr = v
			}
		}
		if per[f.callID] == nil {
			per[f.callID] = map[string]bool{}
		}
		per[f.callID][tr+" "+f.method+" "+f.status] = true
		if tr == "ws" && !strings.Contains(f.protocols, ":tcp:sip") {
			t.Errorf("ws frame decoded as %s, want tcp:sip", f.protocols)
		}
	}
	if len(per) != 2 {
		t.Fatalf("capture holds %d Call-IDs, want both legs: %+v", len(per), frames)
	}
	wsLeg := 0
	for callID, seen := range per {
		if seen["ws INVITE "] {
			wsLeg++
			// the ACK to a failure is absorbed by the transaction layer
			// and not seen by the capture
			if !seen["ws INVITE 486"] {
				t.Errorf("WebSocket leg %s lacks the 486: %v", callID, seen)
			}
		} else if !seen["udp INVITE "] || !seen["udp INVITE 486"] {
			t.Errorf("UDP leg %s incomplete: %v", callID, seen)
		}
	}
	if wsLeg != 1 {
		t.Errorf("%d WebSocket legs in the capture, want 1: %v", wsLeg, per)
	}
}
