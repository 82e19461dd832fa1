package e2e

import (
	"strings"
	"testing"

	"github.com/openborder/openborder/policy"
)

// withTCP adds TCP listeners to both realms and makes the trunk's gateway a
// TCP one.
func withTCP(cfg *policy.Config) {
	for i := range cfg.Realms {
		r := &cfg.Realms[i]
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "tcp", Address: r.Listeners[0].Address})
	}
	cfg.Trunks[0].Gateways[0].Transport = "tcp"
}

// TestCallOverTCP places a call that arrives over TCP in the access realm
// and leaves over TCP to the gateway, with RTP both ways, then the callee
// hangs up so sbcd must reach the caller over the caller's own connection.
func TestCallOverTCP(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	e := newEnv(t, 27, withTCP)
	tcp := func(o *SippOpts) { o.Transport = "tcp" }
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { tcp(o); o.RTPEcho = true })
	caller := e.caller("caller", "uac_rtp.xml", 0, tcp)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	for _, m := range initialInvites(er, false) {
		if v := m.Headers("Via"); len(v) != 1 || !strings.HasPrefix(v[0], "SIP/2.0/TCP ") {
			t.Errorf("callee's INVITE Via %v, want one SIP/2.0/TCP", v)
		}
		if c := m.Header("Contact"); !strings.Contains(strings.ToLower(c), "transport=tcp") {
			t.Errorf("callee's INVITE Contact %q lacks transport=tcp", c)
		}
	}
	for _, m := range cr.Responses(false, 200, "INVITE") {
		if c := m.Header("Contact"); !strings.Contains(strings.ToLower(c), "transport=tcp") {
			t.Errorf("caller's 200 Contact %q lacks transport=tcp", c)
		}
	}
	l := e.callEnded(cr)
	wantAttrs(t, l, map[string]string{"cause": "caller_bye", "status": "200"})
	if a, b := rtpIn(t, l); a <= 0 || b <= 0 {
		t.Errorf("media not relayed both ways over a TCP-signalled call: a_rtp_in=%d b_rtp_in=%d", a, b)
	}
}

// TestCalleeHangsUpOverTCP: the BYE from the gateway must reach a caller
// whose only path is the TCP connection it opened.
func TestCalleeHangsUpOverTCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 28, withTCP)
	tcp := func(o *SippOpts) { o.Transport = "tcp" }
	callee := e.callee("callee", "uas_bye.xml", 0, tcp)
	caller := e.caller("caller", "uac_callee_bye.xml", 0, tcp)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	if len(cr.Requests(false, "BYE")) == 0 {
		t.Error("caller got no BYE over its TCP connection")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "callee_bye"})
}
