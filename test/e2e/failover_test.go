package e2e

import (
	"testing"
	"time"
)

func TestFailoverOn503(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 16, withSecondGateway(16))
	gw1 := e.callee("gw1", "uas_reject_503.xml", 0, nil)
	gw2 := e.callee("gw2", "uas_basic.xml", 1, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = 500 * time.Millisecond })
	cr, r1, r2 := caller.Wait(t), gw1.Wait(t), gw2.Wait(t)
	wantExit0(t, cr, r1, r2)
	e.checkBLeg(cr, r2, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{r1, r2})
	if n := len(initialInvites(r1, false)); n != 1 {
		t.Errorf("gateway 1 got %d INVITEs, want 1", n)
	}
	if n := len(cr.Find(false, func(m *Message) bool { return m.Status() == 503 })); n != 0 {
		t.Errorf("caller saw the 503 of gateway 1")
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye", "status": "200"})
}

func TestFailoverOnTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 17, withSecondGateway(17))
	gw1 := e.callee("gw1", "uas_noanswer.xml", 0, nil)
	gw2 := e.callee("gw2", "uas_basic.xml", 1, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = 500 * time.Millisecond })
	cr, r2 := caller.Wait(t), gw2.Wait(t)
	r1 := gw1.Stop(t) // its exit code says nothing: it is meant to stay silent
	wantExit0(t, cr, r2)
	e.checkBLeg(cr, r2, true)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{r1, r2})
	i1, i2 := initialInvites(r1, false), initialInvites(r2, false)
	if len(i1) == 0 || len(i2) == 0 {
		t.Fatalf("INVITEs at gateway 1: %d, gateway 2: %d", len(i1), len(i2))
	}
	timeout := e.cfg.SIP.InviteTimeout
	if gap := i2[0].Time.Sub(i1[0].Time); gap < timeout-500*time.Millisecond || gap > timeout+3*time.Second {
		t.Errorf("gateway 2 tried %v after gateway 1, want about sip.invite_timeout (%v)", gap, timeout)
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "caller_bye", "status": "200"})
}
