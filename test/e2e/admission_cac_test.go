package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestAdmissionLimitAndEmergencyPreemption: trunk pbx takes one call at a
// time. A second call gets 503 with Retry-After and a Reason naming the
// limit; an emergency call (911) is admitted anyway and pre-empts the
// call in progress, which gets a BYE with Reason: preemption on both legs.
func TestAdmissionLimitAndEmergencyPreemption(t *testing.T) {
	t.Parallel()
	const net = 37
	e := newEnv(t, net, func(c *policy.Config) {
		c.Trunks[0].Limits = policy.LimitsConfig{MaxCalls: 1}
		c.Realms[0].Emergency = []string{"911", "112"}
	})
	uas := e.callee("uas", "uas_basic.xml", 0, func(o *SippOpts) { o.Calls = 2 })

	victim := e.caller("victim", "uac_callee_bye.xml", 0, func(o *SippOpts) { o.Service = "5000" })
	time.Sleep(time.Second) // the first call is up and holds the trunk's only slot

	full := e.caller("full", "uac_reject_503.xml", 1, func(o *SippOpts) { o.Service = "5001" }).Wait(t)
	wantExit0(t, full)
	r := full.Responses(false, 503, "INVITE")
	if len(r) != 1 {
		t.Fatalf("second call: %d 503s", len(r))
	}
	if ra := r[0].Header("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("503 without Retry-After:\n%s", r[0].Raw)
	}
	if rs := r[0].Header("Reason"); !strings.Contains(rs, "trunk:pbx") {
		t.Fatalf("503 Reason %q does not name the limit", rs)
	}

	emergency := e.caller("emergency", "uac_basic.xml", 2, func(o *SippOpts) { o.Service = "911"; o.Duration = 500 * time.Millisecond }).Wait(t)
	wantExit0(t, emergency)
	v := victim.Wait(t)
	wantExit0(t, v)
	byes := v.Requests(false, "BYE")
	if len(byes) != 1 || !strings.Contains(byes[0].Header("Reason"), "preemption") {
		t.Fatalf("pre-empted caller's BYE: %v", byes)
	}
	callee := uas.Wait(t)
	wantExit0(t, callee)
	invs := callee.Requests(false, "INVITE")
	if len(invs) != 2 || !strings.HasPrefix(invs[1].RequestURI(), "sip:911@") {
		t.Fatalf("callee got %d INVITEs, want the victim's then 911", len(invs))
	}
	pre := 0
	for _, b := range callee.Requests(false, "BYE") {
		if strings.Contains(b.Header("Reason"), "preemption") {
			pre++
		}
	}
	if pre != 1 {
		t.Fatalf("callee got %d BYEs with Reason: preemption, want 1", pre)
	}
}
