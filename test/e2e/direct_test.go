package e2e

import (
	"fmt"
	"testing"
	"time"
)

// scenarioPair is a caller scenario run straight against a callee scenario,
// without sbcd, to prove the XML itself is right.
type scenarioPair struct {
	name           string
	caller, callee string
	needs          string // a file the scenario needs
	callerMod      func(*SippOpts)
	calleeMod      func(*SippOpts)
	// check looks at the far ends' results beyond the exit codes.
	check func(t *testing.T, caller, callee *SippResult)
}

func TestScenariosDirect(t *testing.T) {
	RequireTool(t, "sipp")
	pairs := []scenarioPair{
		{name: "basic", caller: "uac_basic.xml", callee: "uas_basic.xml",
			callerMod: func(o *SippOpts) { o.Duration = 200 * time.Millisecond }},
		{name: "rtp", caller: "uac_rtp.xml", callee: "uas_basic.xml", needs: g711aPcap,
			calleeMod: func(o *SippOpts) { o.RTPEcho = true },
			check: func(t *testing.T, caller, _ *SippResult) {
				if len(caller.Requests(true, "BYE")) != 1 {
					t.Errorf("caller sent no BYE")
				}
			}},
		{name: "callee bye", caller: "uac_callee_bye.xml", callee: "uas_bye.xml",
			check: func(t *testing.T, caller, _ *SippResult) {
				if len(caller.Requests(false, "BYE")) != 1 {
					t.Errorf("caller got %d BYE, want 1", len(caller.Requests(false, "BYE")))
				}
			}},
		{name: "reject 404", caller: "uac_reject_404.xml", callee: "uas_reject_404.xml", check: wantFinal(404)},
		{name: "reject 486", caller: "uac_reject_486.xml", callee: "uas_reject_486.xml", check: wantFinal(486)},
		{name: "reject 503", caller: "uac_reject_503.xml", callee: "uas_reject_503.xml", check: wantFinal(503)},
		{name: "cancel", caller: "uac_cancel.xml", callee: "uas_cancel.xml", check: wantFinal(487)},
		{name: "cancel race", caller: "peer/uac_cancel_race.xml", callee: "uas_cancel_race.xml",
			check: func(t *testing.T, _, callee *SippResult) {
				if len(callee.Requests(false, "ACK")) != 1 || len(callee.Requests(false, "BYE")) != 1 {
					t.Errorf("callee wants ACK and BYE after the race:\n%s", callee.Report())
				}
			}},
		{name: "hold from caller", caller: "uac_hold.xml", callee: "uas_reinvite.xml", check: wantReinvites(false)},
		{name: "hold from callee", caller: "uac_reinvited.xml", callee: "uas_hold.xml", check: wantReinvites(true)},
		{name: "update", caller: "uac_update.xml", callee: "uas_update.xml"},
		{name: "info", caller: "uac_info.xml", callee: "uas_info.xml"},
		{name: "refer rejected", caller: "uac_refer.xml", callee: "peer/uas_refer403.xml"},
		{name: "prack", caller: "peer/uac_prack.xml", callee: "uas_prack.xml"},
		{name: "session timer", caller: "uac_timer.xml", callee: "uas_timer.xml",
			callerMod: func(o *SippOpts) { o.Duration = time.Second },
			check: func(t *testing.T, _, callee *SippResult) {
				if len(callee.Requests(false, "UPDATE")) != 1 {
					t.Errorf("callee got no refresh:\n%s", callee.Report())
				}
			}},
		{name: "fork", caller: "peer/uac_fork.xml", callee: "uas_fork.xml"},
		{name: "load", caller: "uac_load.xml", callee: "uas_basic.xml",
			callerMod: func(o *SippOpts) { o.Calls, o.Rate, o.Duration = 5, 10, 200*time.Millisecond },
			calleeMod: func(o *SippOpts) { o.Calls = 5 },
			check: func(t *testing.T, caller, _ *SippResult) {
				if len(caller.Stats) == 0 {
					t.Fatalf("no statistics from the load caller")
				}
				if n, err := caller.Stats[len(caller.Stats)-1].Int("SuccessfulCall(C)"); err != nil || n != 5 {
					t.Errorf("successful calls = %d (%v), want 5", n, err)
				}
			}},
	}
	for i, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			if p.needs != "" {
				RequireFile(t, p.needs)
			}
			topo := Topology{Net: 200 + i}
			callee := StartSipp(t, SippOpts{
				Name: "callee", Scenario: p.callee, LocalIP: topo.GatewayIP(0), LocalPort: GatewayPort,
				MediaPort: CalleeMediaPort, Timeout: 20 * time.Second, Dir: t.TempDir(),
			}.with(p.calleeMod))
			caller := StartSipp(t, SippOpts{
				Name: "caller", Scenario: p.caller, LocalIP: topo.CallerIP(0), LocalPort: CallerPort,
				Remote: topo.Gateway(0), Timeout: 20 * time.Second, Dir: t.TempDir(),
			}.with(p.callerMod))
			cr := caller.Wait(t)
			er := callee.Wait(t)
			if cr.ExitCode != 0 || er.ExitCode != 0 {
				t.Fatalf("exit codes caller %d callee %d\n%s\n%s", cr.ExitCode, er.ExitCode, cr.Report(), er.Report())
			}
			if p.check != nil {
				p.check(t, cr, er)
			}
		})
	}
}

func (o SippOpts) with(mod func(*SippOpts)) SippOpts {
	if mod != nil {
		mod(&o)
	}
	return o
}

// wantFinal checks the caller received exactly one final response to its
// INVITE and that it had the given status.
func wantFinal(status int) func(t *testing.T, caller, _ *SippResult) {
	return func(t *testing.T, caller, _ *SippResult) {
		t.Helper()
		finals := caller.Find(false, func(m *Message) bool {
			return !m.IsRequest() && m.Method() == "INVITE" && m.Status() >= 200
		})
		got := map[int]bool{}
		for _, m := range finals {
			got[m.Status()] = true
		}
		if len(got) != 1 || !got[status] {
			t.Errorf("caller's final responses %v, want only %d", got, status)
		}
	}
}

// wantReinvites checks the side being held got a=sendonly then a=sendrecv.
func wantReinvites(toCaller bool) func(t *testing.T, caller, callee *SippResult) {
	return func(t *testing.T, caller, callee *SippResult) {
		t.Helper()
		held := callee
		if toCaller {
			held = caller
		}
		var dirs []string
		for _, m := range held.Requests(false, "INVITE") {
			for _, d := range []string{"sendonly", "sendrecv"} {
				if m.ToTag() != "" && SDPAttr(m.Body, d) {
					dirs = append(dirs, d)
				}
			}
		}
		if fmt.Sprint(dirs) != "[sendonly sendrecv]" {
			t.Errorf("re-INVITE directions %v, want [sendonly sendrecv]", dirs)
		}
	}
}
