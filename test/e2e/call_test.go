package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

const g711aPcap = "/usr/share/sip-tester/g711a.pcap"

func TestCallWithMedia(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	e := newEnv(t, 1, nil)
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := e.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	l := e.callEnded(cr)
	wantAttrs(t, l, map[string]string{"cause": "caller_bye", "status": "200", "route": "access-to-pbx"})
	if a, b := rtpIn(t, l); a <= 0 || b <= 0 {
		t.Errorf("media not relayed both ways: a_rtp_in=%d b_rtp_in=%d", a, b)
	}
	if d, ok := l.Int("duration_ms"); !ok || d < 4000 {
		t.Errorf("duration_ms = %d, want about 5500", d)
	}
}

func TestCalleeHangsUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2, nil)
	callee := e.callee("callee", "uas_bye.xml", 0, nil)
	caller := e.caller("caller", "uac_callee_bye.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	bye := cr.Requests(false, "BYE")
	if len(bye) == 0 {
		t.Fatal("caller got no BYE")
	}
	if bye[0].CallID() != initialInvites(cr, true)[0].CallID() {
		t.Errorf("BYE to the caller on Call-ID %q, not the caller's dialog", bye[0].CallID())
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "callee_bye", "status": "200"})
}

func TestRejections(t *testing.T) {
	t.Parallel()
	for i, code := range []int{404, 486, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 3+i, func(c *policy.Config) {
				c.Trunks[0].FailoverCodes = []int{408} // the callee's answer is final
			})
			callee := e.callee("callee", fmt.Sprintf("uas_reject_%d.xml", code), 0, nil)
			caller := e.caller("caller", fmt.Sprintf("uac_reject_%d.xml", code), 0, nil)
			cr, er := caller.Wait(t), callee.Wait(t)
			wantExit0(t, cr, er)
			e.checkBLeg(cr, er, false)
			e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
			wantFinal(code)(t, cr, er)
			wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "failed", "status": fmt.Sprint(code)})
		})
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 6, nil)
	callee := e.callee("callee", "uas_cancel.xml", 0, nil)
	caller := e.caller("caller", "uac_cancel.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkBLeg(cr, er, false)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	cancels := er.Requests(false, "CANCEL")
	if len(cancels) == 0 {
		t.Fatal("callee got no CANCEL")
	}
	inv := initialInvites(er, false)[0]
	if cancels[0].CallID() != inv.CallID() || fmt.Sprint(cancels[0].Branches()) != fmt.Sprint(inv.Branches()) {
		t.Errorf("CANCEL does not match the B-leg INVITE (Call-ID/branch)")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "cancelled", "status": "487"})
}

func TestCancelAnswerRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 7, nil)
	callee := e.callee("callee", "uas_cancel_race.xml", 0, nil)
	caller := e.caller("caller", "uac_cancel.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	// caller: CANCEL answered and 487; callee: its late 200 was ACKed and BYEd
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	if oks := cr.Responses(false, 200, "INVITE"); len(oks) != 0 {
		t.Errorf("caller got a 200 to its cancelled INVITE")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "cancelled", "status": "487"})
}

func TestForkedAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 15, nil)
	callee := e.callee("callee", "uas_fork.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = time.Second })
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	tags := map[string]bool{}
	for _, m := range cr.Responses(false, 200, "INVITE") {
		tags[m.ToTag()] = true
	}
	if len(tags) != 1 {
		t.Errorf("caller saw 200s with To-tags %v, want exactly one dialog", tags)
	}
	acked := map[string]int{}
	for _, m := range er.Requests(false, "ACK") {
		acked[m.ToTag()]++
	}
	byes := er.Requests(false, "BYE")
	if len(acked) != 2 || len(byes) != 2 || !strings.HasPrefix(byes[0].ToTag(), "forkB") {
		t.Errorf("callee: ACKs per tag %v, %d BYEs; want both dialogs ACKed and tag B released first", acked, len(byes))
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye", "status": "200"})
}
