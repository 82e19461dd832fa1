package e2e

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/policy"
)

// gatewayHealth polls GET /api/v1/trunks until the gateway has the wanted
// health and returns how long that took.
func waitGatewayHealth(t *testing.T, net int, trunk, gw, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < within {
		var trunks []admin.Trunk
		adminJSON(t, "GET", "http://"+adminAddr(net)+"/api/v1/trunks", "ro", nil, &trunks)
		for _, tr := range trunks {
			for _, g := range tr.Gateways {
				if tr.Name == trunk && g.Address == gw {
					last = g.Health + " (" + g.LastResult + ")"
					if g.Health == want {
						return time.Since(start)
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gateway %s of %s is %s after %v, want %s", gw, trunk, last, within, want)
	return 0
}

func TestHealthChecksMoveTrafficAndBack(t *testing.T) {
	t.Parallel()
	const net = 43
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		topo := Topology{Net: net}
		c.Trunks = c.Trunks[:1]
		c.Trunks[0].Gateways = []policy.GatewayConfig{{Address: topo.Gateway(0), Priority: 1}, {Address: topo.Gateway(1), Priority: 2}}
		c.Trunks[0].HealthCheck = &policy.HealthCheckConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Failures: 2, Successes: 2}
		c.Routes = []policy.RouteConfig{{Name: "out", Trunks: []string{"a"}, Failover: policy.FailoverConfig{AttemptTimeout: time.Second}}}
	})
	gw0 := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gw1 := startGoGateway(t, e.topo.GatewayIP(1), GatewayPort)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())
	g0, g1 := e.topo.Gateway(0), e.topo.Gateway(1)
	waitGatewayHealth(t, net, "a", g0, "up", 3*time.Second)
	waitGatewayHealth(t, net, "a", g1, "up", 3*time.Second)
	if _, opts := gw0.counts(); opts == 0 {
		t.Fatal("gateway 0 got no OPTIONS")
	}

	if r := caller.call("3000", 0); r.Code != 200 {
		t.Fatalf("first call: %d", r.Code)
	}
	// sbcd answers OPTIONS addressed to itself, as gateways' probes of it expect.
	if res, err := caller.options(); err != nil || res.Status() != 200 || res.Header("Allow") == "" ||
		res.Header("Accept") == "" || res.Header("Supported") == "" {
		t.Errorf("OPTIONS to sbcd: %v %+v", err, res)
	}
	// Gateway 0 dies: no OPTIONS answers, no INVITE answers.
	died := time.Now()
	gw0.answerOptions.Store(false)
	gw0.inviteCode.Store(0)
	// A call placed before the probes notice still succeeds: its silent
	// attempt times out (attempt_timeout 1s) and gateway 1 answers.
	if r := caller.call("3000", 0); r.Code != 200 || r.Took < 900*time.Millisecond {
		t.Errorf("call in flight when gateway 0 died: %d after %v", r.Code, r.Took)
	}
	waitGatewayHealth(t, net, "a", g0, "down", 3*time.Second)
	before, _ := gw0.counts()
	for range 3 {
		if r := caller.call("3000", 0); r.Code != 200 || r.Took > time.Second {
			t.Errorf("call while gateway 0 is down: %d after %v (want 200 at once from gateway 1)", r.Code, r.Took)
		}
	}
	if after, _ := gw0.counts(); after != before {
		t.Errorf("gateway 0 got %d INVITEs while down", after-before)
	}
	if n, _ := gw1.counts(); n != 4 {
		t.Errorf("gateway 1 got %d calls, want 4", n)
	}
	m := scrape(t, adminAddr(net))
	if v, ok := m[fmt.Sprintf(`openborder_gateway_up{gateway="%s",realm="core",trunk="a"}`, g0)]; !ok || v != 0 {
		t.Errorf("openborder_gateway_up of gateway 0 = %v (%v), want 0", v, ok)
	}
	if l, err := e.sbcd.WaitFor(func(l LogLine) bool {
		return l.Msg() == "gateway health changed" && l.Str("gateway") == g0 && l.Str("to") == "down"
	}, time.Second); err != nil {
		t.Error(err)
	} else if at, err := time.Parse(time.RFC3339Nano, l.Str("time")); err == nil {
		t.Logf("gateway 0 out of routing %v after it stopped answering", at.Sub(died))
	}

	// It comes back: traffic returns to it.
	gw0.answerOptions.Store(true)
	gw0.inviteCode.Store(200)
	waitGatewayHealth(t, net, "a", g0, "up", 3*time.Second)
	if r := caller.call("3000", 0); r.Code != 200 {
		t.Fatalf("call after recovery: %d", r.Code)
	}
	if after, _ := gw0.counts(); after != before+1 {
		t.Errorf("gateway 0 got %d new INVITEs after recovery, want 1", after-before)
	}

	// No gateway in service: 503 at once, with a Reason.
	gw0.answerOptions.Store(false)
	gw1.answerOptions.Store(false)
	waitGatewayHealth(t, net, "a", g0, "down", 3*time.Second)
	waitGatewayHealth(t, net, "a", g1, "down", 3*time.Second)
	r := caller.call("3000", 0)
	if r.Code != 503 || r.Took > 500*time.Millisecond || !strings.Contains(r.Reason, "cause=503") || !strings.Contains(r.Reason, "No gateway in service") {
		t.Errorf("call with no gateway in service: %d after %v, Reason %q", r.Code, r.Took, r.Reason)
	}
	var trunks []admin.Trunk
	adminJSON(t, "GET", "http://"+adminAddr(net)+"/api/v1/trunks", "ro", nil, &trunks)
	if len(trunks) != 1 || trunks[0].Available || trunks[0].Gateways[0].InService || trunks[0].Gateways[0].LastResult != "timeout" {
		t.Errorf("trunks %+v", trunks)
	}
	code, out, _ := sbcctl(t, "ro", "-admin", adminAddr(net), "trunks")
	if code != 0 || !strings.Contains(out, "down") || !strings.Contains(out, "false") {
		t.Errorf("sbcctl trunks: %d\n%s", code, out)
	}
}

func TestFailoverRerouteThenFinal504WithReason(t *testing.T) {
	t.Parallel()
	const net = 44
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		c.Routes = []policy.RouteConfig{
			{Name: "capped", Trunks: []string{"a", "b"}, Match: policy.MatchConfig{RURIUser: policy.StringMatch{Prefix: "1"}},
				Failover: policy.FailoverConfig{MaxAttempts: 1}},
			{Name: "slow", Trunks: []string{"b"}, Match: policy.MatchConfig{RURIUser: policy.StringMatch{Prefix: "2"}},
				Failover: policy.FailoverConfig{AttemptTimeout: 10 * time.Second, SetupTimeout: time.Second}},
			{Name: "all", Trunks: []string{"a", "b"},
				Failover: policy.FailoverConfig{Codes: []int{503}, AttemptTimeout: time.Second}},
		}
	})
	gwA := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gwB := startGoGateway(t, e.topo.GatewayIP(1), GatewayPort)
	gwA.inviteCode.Store(503)
	gwB.inviteCode.Store(0) // never answers
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())

	// 503 from a moves on to b, which times out after attempt_timeout: 504.
	r := caller.call("5000", 0)
	if r.Code != 504 || !strings.Contains(r.Reason, "SIP;cause=408") || r.Took < 900*time.Millisecond || r.Took > 2500*time.Millisecond {
		t.Errorf("all failed: %d after %v, Reason %q; want 504 after about 1s with cause=408", r.Code, r.Took, r.Reason)
	}
	if a, _ := gwA.counts(); a != 1 {
		t.Errorf("trunk a got %d INVITEs", a)
	}
	if b, _ := gwB.counts(); b != 1 {
		t.Errorf("trunk b got %d INVITEs", b)
	}
	// max_attempts 1: the 503 is final, mapped with its cause.
	r = caller.call("1000", 0)
	if r.Code != 503 || !strings.Contains(r.Reason, "SIP;cause=503") {
		t.Errorf("capped: %d Reason %q", r.Code, r.Reason)
	}
	if b, _ := gwB.counts(); b != 1 {
		t.Errorf("capped route tried trunk b (%d INVITEs)", b)
	}
	// setup_timeout bounds the whole setup below the attempt timeout.
	r = caller.call("2000", 0)
	if r.Code != 504 || r.Took < 900*time.Millisecond || r.Took > 2500*time.Millisecond {
		t.Errorf("setup timeout: %d after %v, want 504 after about 1s", r.Code, r.Took)
	}
	// Once b answers again, the 503 of a is rerouted without the caller seeing it.
	gwB.inviteCode.Store(200)
	if r := caller.call("5000", 0); r.Code != 200 {
		t.Errorf("reroute to b: %d", r.Code)
	}
	wantAttrs(t, e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "every candidate failed" })[0],
		map[string]string{"status": "504"})
}

// TestTrunkTrapsThroughSnmpd runs alone (not in parallel) on net 44, which
// TestFailoverRerouteThenFinal504WithReason uses in the parallel phase.
func TestTrunkTrapsThroughSnmpd(t *testing.T) {
	RequireTool(t, "snmpd")
	traps, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer traps.Close()
	_, axPort := startSnmpd(t, traps.LocalAddr().(*net.UDPAddr).Port)
	const netID = 44
	e := newGoEnv(t, netID, func(c *policy.Config) {
		c.SNMP.AgentX = fmt.Sprintf("tcp:127.0.0.1:%d", axPort)
		c.Trunks[0].Name = "carrier-quux"
		c.Trunks[0].HealthCheck = &policy.HealthCheckConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Failures: 2, Successes: 1}
		c.Routes[0].Trunks = []string{"carrier-quux"}
	})
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	if _, err := e.sbcd.WaitFor(func(l LogLine) bool { return l.Msg() == "gateway health changed" && l.Str("to") == "up" }, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitTrap := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		_ = traps.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, _, err := traps.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no notification with %q: %v", want, err)
			}
			if bytes.Contains(buf[:n], []byte("carrier-quux")) && bytes.Contains(buf[:n], []byte(want)) {
				return
			}
		}
	}
	gw.answerOptions.Store(false)
	waitTrap(e.topo.Gateway(0) + ": timeout") // obTrunkDown: the last gateway went down
	gw.answerOptions.Store(true)
	waitTrap("answers again") // obTrunkUp
}
