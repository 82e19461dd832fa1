package e2e

import (
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// An emergency number is always routed: when health checks have taken
// the trunk's only gateway out of service, ordinary calls fail fast with
// 503, but a 911 call is still sent to that gateway and answered.
func TestEmergencyCallUsesGatewayMarkedDown(t *testing.T) {
	t.Parallel()
	const net = 125
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		c.Trunks = c.Trunks[:1]
		c.Trunks[0].HealthCheck = &policy.HealthCheckConfig{Interval: 200 * time.Millisecond,
			Timeout: 150 * time.Millisecond, Failures: 2, Successes: 2}
		for i := range c.Realms {
			if c.Realms[i].Name == "access" {
				c.Realms[i].Emergency = []string{"911"}
			}
		}
		c.Routes = []policy.RouteConfig{{Name: "out", Trunks: []string{"a"}}}
	})
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())
	g := e.topo.Gateway(0)
	waitGatewayHealth(t, net, "a", g, "up", 3*time.Second)

	// The gateway stops answering OPTIONS but still takes calls.
	gw.answerOptions.Store(false)
	waitGatewayHealth(t, net, "a", g, "down", 3*time.Second)
	before, _ := gw.counts()
	if r := caller.call("3000", 0); r.Code != 503 {
		t.Errorf("ordinary call with the gateway down: %d, want 503", r.Code)
	}
	if n, _ := gw.counts(); n != before {
		t.Errorf("the gateway got %d INVITEs for an ordinary call while down", n-before)
	}
	if r := caller.call("911", 0); r.Code != 200 {
		t.Fatalf("emergency call with the gateway marked down: %d, want 200", r.Code)
	}
	if n, _ := gw.counts(); n != before+1 {
		t.Errorf("the gateway got %d INVITEs for the emergency call, want 1", n-before)
	}
	if got := gw.calledUsers(); len(got) == 0 || got[len(got)-1] != "911" {
		t.Errorf("called users at the gateway %v, want 911 last", got)
	}
}
