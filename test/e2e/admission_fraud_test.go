package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestAdmissionSRTPRequiredAndFraud: a trunk that requires SRTP refuses
// plain RTP with 488 both as callee (its answer) and as caller (its
// offer); a toll-fraud rule lets an account make two international calls
// an hour, refuses the third with 403 and a Reason, and keeps the account
// blocked for other destinations too.
func TestAdmissionSRTPRequiredAndFraud(t *testing.T) {
	t.Parallel()
	const net = 38
	topo := Topology{Net: net}
	e := newEnv(t, net, func(c *policy.Config) {
		c.Trunks = append(c.Trunks, policy.TrunkConfig{Name: "secure", Realm: "core", SRTPRequired: true,
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1), Transport: "udp"}}})
		c.Routes = append([]policy.RouteConfig{{Name: "to-secure", Match: policy.MatchConfig{SourceRealm: "access",
			RURIUser: policy.StringMatch{Prefix: "7"}}, Trunks: []string{"secure"}}}, c.Routes...)
		c.Routes = append(c.Routes, policy.RouteConfig{Name: "from-core", Match: policy.MatchConfig{SourceRealm: "core"}, Trunks: []string{"pbx"}})
		c.Fraud = policy.FraudConfig{BlockTime: time.Hour, Rules: []policy.FraudRuleConfig{
			{Name: "international", Prefix: "00", CallsPerHour: 2, CostPerMinute: 0.5}}}
	})

	t.Run("srtp", func(t *testing.T) {
		// The secure trunk answers with plain RTP: the caller gets 488 and
		// the trunk's leg is acknowledged and ended.
		plain := e.callee("plain", "uas_basic.xml", 1, nil)
		r := e.caller("to-secure", "uac_reject_488.xml", 0, func(o *SippOpts) { o.Service = "7000" }).Wait(t)
		wantExit0(t, r, plain.Wait(t))
		// The secure trunk calls in with a plain offer: 488 before any routing.
		in := StartSipp(t, SippOpts{Name: "from-secure", Scenario: "uac_reject_488.xml", LocalIP: topo.GatewayIP(1),
			LocalPort: GatewayPort, Remote: topo.CoreSIP(), Service: "100", Timeout: 10 * time.Second, Dir: e.dir}).Wait(t)
		wantExit0(t, in)
	})

	t.Run("fraud", func(t *testing.T) {
		uas := e.callee("uas", "uas_basic.xml", 0, func(o *SippOpts) { o.Calls = 2 })
		ok := e.caller("intl", "uac_basic.xml", 0, func(o *SippOpts) { o.Service = "0044201234"; o.Calls = 2 }).Wait(t)
		wantExit0(t, ok, uas.Wait(t))
		third := e.caller("intl-3", "uac_reject_403.xml", 0, func(o *SippOpts) { o.Service = "0044201235" }).Wait(t)
		wantExit0(t, third)
		r := third.Responses(false, 403, "INVITE")
		if len(r) != 1 || !strings.Contains(r[0].Header("Reason"), "international") || !strings.Contains(r[0].Header("Reason"), "calls_per_hour") {
			t.Fatalf("third international call: %v", r)
		}
		// Blocked for every destination now.
		local := e.caller("local", "uac_reject_403.xml", 0, func(o *SippOpts) { o.Service = "5000" }).Wait(t)
		wantExit0(t, local)
		if _, err := e.sbcd.WaitMsg("toll-fraud rule breached: account blocked", time.Second); err != nil {
			t.Fatalf("no fraud event logged: %v", err)
		}
	})
}
