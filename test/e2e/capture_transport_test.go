package e2e

import (
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

// SIP that sbcd received and sent over TCP is in the capture as TCP
// segments that tshark reassembles and decodes as SIP, for both legs.
func TestCaptureOfTCPCall(t *testing.T) {
	t.Parallel()
	c := newCapEnv(t, 128, withTCP)
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
