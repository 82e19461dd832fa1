package e2e

import (
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// inDialog runs one caller/callee pair through sbcd and applies the checks
// every in-dialog test shares.
func inDialog(t *testing.T, net int, callerScen, calleeScen string, callerMod func(*SippOpts)) (*env, *SippResult, *SippResult) {
	t.Helper()
	e := newEnv(t, net, nil)
	callee := e.callee("callee", calleeScen, 0, nil)
	caller := e.caller("caller", callerScen, 0, callerMod)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	return e, cr, er
}

func TestHoldFromCaller(t *testing.T) {
	t.Parallel()
	e, cr, er := inDialog(t, 8, "uac_hold.xml", "uas_reinvite.xml", nil)
	wantReinvites(false)(t, cr, er)
	for _, m := range er.Requests(false, "INVITE") {
		if m.ToTag() != "" {
			checkSDP(t, "re-INVITE to callee", m.Body, e.topo.CoreIP(), CoreMediaMin, CoreMediaMax)
		}
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye"})
}

func TestHoldFromCallee(t *testing.T) {
	t.Parallel()
	e, cr, er := inDialog(t, 9, "uac_reinvited.xml", "uas_hold.xml", nil)
	wantReinvites(true)(t, cr, er)
	for _, m := range cr.Requests(false, "INVITE") {
		if m.ToTag() != "" {
			checkSDP(t, "re-INVITE to caller", m.Body, e.topo.AccessIP(), AccessMediaMin, AccessMediaMax)
		}
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye"})
}

func TestUpdateInDialog(t *testing.T) {
	t.Parallel()
	e, cr, er := inDialog(t, 10, "uac_update.xml", "uas_update.xml", nil)
	up := er.Requests(false, "UPDATE")
	if len(up) == 0 {
		t.Fatal("callee got no UPDATE")
	}
	checkSDP(t, "UPDATE to callee", up[0].Body, e.topo.CoreIP(), CoreMediaMin, CoreMediaMax)
	if oks := cr.Responses(false, 200, "UPDATE"); len(oks) == 0 {
		t.Error("caller got no 200 to UPDATE")
	} else {
		checkSDP(t, "200 UPDATE to caller", oks[0].Body, e.topo.AccessIP(), AccessMediaMin, AccessMediaMax)
	}
}

func TestPrackToCallee(t *testing.T) {
	t.Parallel()
	// the caller does not support 100rel: sbcd PRACKs the callee itself
	e, cr, er := inDialog(t, 11, "uac_basic.xml", "uas_prack.xml", func(o *SippOpts) { o.Duration = 500 * time.Millisecond })
	pr := er.Requests(false, "PRACK")
	if len(pr) == 0 || pr[0].Header("RAck") != "1 1 INVITE" {
		t.Errorf("callee PRACKs %d, RAck %q; want RAck 1 1 INVITE", len(pr), first(pr).Header("RAck"))
	}
	for _, m := range cr.Find(false, func(m *Message) bool { return m.Status() == 183 }) {
		if m.Header("Require") != "" || m.Header("RSeq") != "" {
			t.Errorf("caller without 100rel got a reliable 183: Require %q RSeq %q", m.Header("Require"), m.Header("RSeq"))
		}
	}
	// the caller's 183 was unreliable, so its SDP was only a preview: the
	// answer must come again in the 200 (RFC 3261 13.2.1, RFC 3262 section 5)
	if ok := first(cr.Responses(false, 200, "INVITE")); ok.Body == "" {
		t.Errorf("caller's 200 has no SDP answer; an unreliable 183 cannot carry the only answer")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye", "status": "200"})
}

func TestInfoBothWays(t *testing.T) {
	t.Parallel()
	_, cr, er := inDialog(t, 12, "uac_info.xml", "uas_info.xml", nil)
	for _, c := range []struct {
		who  string
		r    *SippResult
		body string
	}{{"callee", er, "Signal=5"}, {"caller", cr, "Signal=9"}} {
		infos := c.r.Requests(false, "INFO")
		if len(infos) == 0 {
			t.Errorf("%s got no INFO", c.who)
			continue
		}
		if ct := infos[0].Header("Content-Type"); ct != "application/dtmf-relay" {
			t.Errorf("%s INFO Content-Type %q", c.who, ct)
		}
		if !containsLine(infos[0].Body, c.body) {
			t.Errorf("%s INFO body %q lacks %s", c.who, infos[0].Body, c.body)
		}
	}
}

func TestReferRejected(t *testing.T) {
	t.Parallel()
	_, cr, er := inDialog(t, 13, "uac_refer.xml", "uas_basic.xml", nil)
	if n := len(er.Requests(false, "REFER")); n != 0 {
		t.Errorf("callee got %d REFER, want none", n)
	}
	if n := len(cr.Responses(false, 403, "REFER")); n == 0 {
		t.Error("caller got no 403 to REFER")
	}
}

func TestSessionTimerRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 55 s")
	}
	t.Parallel()
	// sbcd uses 90 s on the callee leg and refreshes at half; the caller's own
	// refresh comes only at 50 s, so the first refresh the callee sees by then
	// must be sbcd's.
	const callerRefresh = 50 * time.Second
	e := newEnv(t, 14, func(c *policy.Config) { c.Media.Timeout = 5 * time.Minute }) // no RTP in this call
	callee := e.callee("callee", "uas_timer.xml", 0, func(o *SippOpts) { o.Timeout = 90 * time.Second })
	caller := e.caller("caller", "uac_timer.xml", 0, func(o *SippOpts) {
		o.Duration = callerRefresh
		o.Timeout = 90 * time.Second
	})
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	inv := initialInvites(er, false)
	if len(inv) == 0 {
		t.Fatal("no INVITE at the callee")
	}
	if se := inv[0].Header("Session-Expires"); se == "" {
		t.Errorf("B-leg INVITE without Session-Expires")
	}
	acks := er.Requests(false, "ACK")
	if len(acks) == 0 {
		t.Fatal("callee got no ACK")
	}
	up := cr.Requests(true, "UPDATE")
	var refresh *Message
	for _, m := range er.Received() {
		if m.IsRequest() && (m.Method() == "UPDATE" || (m.Method() == "INVITE" && m.ToTag() != "")) {
			refresh = &m
			break
		}
	}
	switch {
	case refresh == nil:
		t.Errorf("callee got no refresh within %v", callerRefresh)
	case refresh.Time.Sub(acks[0].Time) > 90*time.Second:
		t.Errorf("first refresh %v after the call started, beyond the 90 s interval", refresh.Time.Sub(acks[0].Time))
	case len(up) > 0 && !refresh.Time.Before(up[0].Time):
		t.Errorf("callee's first refresh came after the caller's own (sbcd did not refresh)")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye"})
}

func first(ms []Message) *Message {
	if len(ms) == 0 {
		return &Message{}
	}
	return &ms[0]
}

func containsLine(body, line string) bool {
	for _, l := range splitLines(body) {
		if l == line {
			return true
		}
	}
	return false
}
