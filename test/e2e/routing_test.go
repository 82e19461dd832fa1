package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/policy"
)

// twoTrunks replaces the topology's trunk with trunks a (gateway 0) and
// b (gateway 1), and gives the admin API a read-only token "ro".
func twoTrunks(net int) func(*policy.Config) {
	topo := Topology{Net: net}
	return func(c *policy.Config) {
		c.Trunks = []policy.TrunkConfig{
			{Name: "a", Realm: "core", Gateways: []policy.GatewayConfig{{Address: topo.Gateway(0)}}},
			{Name: "b", Realm: "core", Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}}},
		}
		c.Admin = policy.AdminConfig{Address: adminAddr(net), Tokens: []policy.AdminToken{
			{Name: "viewer", Role: "read_only", SHA256: tokenHash("ro")}}}
	}
}

func adminAddr(net int) string { return fmt.Sprintf("127.%d.3.1:9090", net) }

// clock renders a time of day in UTC as HH:MM.
func clock(t time.Time) string { return t.UTC().Format("15:04") }

func TestRoutingLeastCostTimeOfDayAndExplain(t *testing.T) {
	t.Parallel()
	const net = 40
	rates := filepath.Join(t.TempDir(), "rates.csv")
	if err := os.WriteFile(rates, []byte("prefix,trunk,cost\n44,a,0.020\n44,b,0.010\n49,a,0.010\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		c.RateTables = []policy.RateTableConfig{{Name: "world", File: rates,
			Rates: []policy.RateConfig{{Prefix: "49", Trunk: "b", Cost: 0.030}}}}
		c.Routes = []policy.RouteConfig{
			{Name: "closed", Trunks: []string{"a"}, Match: policy.MatchConfig{RURIUser: policy.StringMatch{Prefix: "7"},
				Time: &policy.TimeMatch{Zone: "UTC", From: clock(now.Add(3 * time.Hour)), To: clock(now.Add(5 * time.Hour))}}},
			{Name: "open", Trunks: []string{"b"}, Match: policy.MatchConfig{RURIUser: policy.StringMatch{Prefix: "7"},
				Time: &policy.TimeMatch{Zone: "UTC", From: clock(now.Add(-2 * time.Hour)), To: clock(now.Add(2 * time.Hour))}}},
			{Name: "lcr", Trunks: []string{"a", "b"}, Strategy: "least_cost", RateTable: "world",
				Match:     policy.MatchConfig{SourceRealm: "access", RURIUser: policy.StringMatch{Prefix: "00"}},
				Translate: []policy.TranslateConfig{{Pattern: "^00", Replacement: ""}}},
		}
	})
	gwA := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gwB := startGoGateway(t, e.topo.GatewayIP(1), GatewayPort)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())

	for _, user := range []string{"0044207", "0049301", "7000"} {
		if r := caller.call(user, 0); r.Code != 200 {
			t.Fatalf("call to %s: %d", user, r.Code)
		}
	}
	// 44 is cheaper over b, 49 over a (after translation 00 -> ""); the
	// open time window sends 7000 to b.
	if got := strings.Join(gwA.calledUsers(), ","); got != "49301" {
		t.Errorf("trunk a got %q, want 49301", got)
	}
	if got := strings.Join(gwB.calledUsers(), ","); got != "44207,7000" {
		t.Errorf("trunk b got %q, want 44207,7000", got)
	}

	// The dry run says the same, and why.
	url := "http://" + adminAddr(net) + "/api/v1/route/explain"
	var ex admin.Explanation
	if code := adminJSON(t, "POST", url, "ro", admin.ExplainRequest{SourceRealm: "access", RURI: "sip:0044207@sbc"}, &ex); code != 200 {
		t.Fatalf("explain: %d", code)
	}
	if ex.Route != "lcr" || ex.Strategy != "least_cost" || ex.CalledUser != "44207" || len(ex.Candidates) != 2 ||
		ex.Candidates[0].Trunk != "b" || ex.Candidates[0].Cost != 0.01 || ex.Candidates[1].Cost != 0.02 ||
		ex.Outcome != "trunks in order: b, a" || ex.Candidates[0].Gateways[0].Address != e.topo.Gateway(1) {
		t.Errorf("explanation %+v", ex)
	}
	later := now.Add(4 * time.Hour)
	ex = admin.Explanation{}
	adminJSON(t, "POST", url, "ro", admin.ExplainRequest{SourceRealm: "access", RURIUser: "7000", Time: &later}, &ex)
	if ex.Route != "closed" || len(ex.Checked) != 1 || !ex.Checked[0].Matched {
		t.Errorf("explanation 4h later: %+v", ex)
	}
	ex = admin.Explanation{}
	adminJSON(t, "POST", url, "ro", admin.ExplainRequest{SourceRealm: "access", RURIUser: "7000"}, &ex)
	if ex.Route != "open" || len(ex.Checked) != 2 || ex.Checked[0].Matched || !strings.Contains(ex.Checked[0].Why, "is outside") {
		t.Errorf("explanation now: %+v", ex)
	}
	if code := adminJSON(t, "POST", url, "ro", map[string]string{"source_realm": "nowhere"}, nil); code != 422 {
		t.Errorf("unknown realm: %d, want 422", code)
	}
	if code := adminJSON(t, "POST", url, "ro", map[string]string{"realm": "access"}, nil); code != 422 {
		t.Errorf("unknown field: %d, want 422", code)
	}
	code, out, errOut := sbcctl(t, "ro", "-admin", adminAddr(net), "route", "explain", "access", "sip:0049301@sbc")
	if code != 0 || !strings.Contains(out, "trunks in order: a, b") || !strings.Contains(out, "0.01 (49)") {
		t.Errorf("sbcctl route explain: exit %d\n%s%s", code, out, errOut)
	}

	// The rate file is read again with the policy: a is now cheaper for 44.
	if err := os.WriteFile(rates, []byte("prefix,trunk,cost\n44,a,0.005\n44,b,0.010\n49,a,0.010\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.sbcd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sbcd.WaitMsg("policy reloaded", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := caller.call("0044207", 0); r.Code != 200 {
		t.Fatalf("call after reload: %d", r.Code)
	}
	if got := strings.Join(gwA.calledUsers(), ","); got != "49301,44207" {
		t.Errorf("after the rate reload trunk a got %q, want 49301,44207", got)
	}
}

func TestRoutingWeightedDistribution(t *testing.T) {
	t.Parallel()
	const net = 41
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		c.Routes = []policy.RouteConfig{{Name: "spread", Trunks: []string{"a", "b"}, Strategy: "weighted",
			Weights: map[string]int{"a": 3, "b": 1}}}
	})
	gwA := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gwB := startGoGateway(t, e.topo.GatewayIP(1), GatewayPort)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())
	const calls = 40
	for i := range calls {
		if r := caller.call("1000", 0); r.Code != 200 {
			t.Fatalf("call %d: %d", i, r.Code)
		}
	}
	a, _ := gwA.counts()
	b, _ := gwB.counts()
	// Weights 3:1 -> a expects 30 of 40; P(a <= 20) is below 0.1%.
	if a+b != calls || a <= 20 || b == 0 {
		t.Errorf("a got %d calls, b %d; want about 30 and 10", a, b)
	}
}

func TestRoutingQualityAvoidsLossyTrunk(t *testing.T) {
	t.Parallel()
	const net = 42
	e := newGoEnv(t, net, func(c *policy.Config) {
		twoTrunks(net)(c)
		c.Routes = []policy.RouteConfig{{Name: "best", Trunks: []string{"a", "b"}, Strategy: "quality",
			Quality: &policy.QualityConfig{MinSamples: 3, Window: 10 * time.Minute, MinMOS: 3.5}}}
	})
	gwA := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gwB := startGoGateway(t, e.topo.GatewayIP(1), GatewayPort)
	gwA.rtpKeepEvery.Store(3) // two packets in three lost
	gwB.rtpKeepEvery.Store(1)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())
	for i := range 5 {
		if r := caller.call("2000", 1200*time.Millisecond); r.Code != 200 {
			t.Fatalf("call %d: %d", i, r.Code)
		}
		// sbcd answers the BYE before it scores the call: the next call
		// must not be routed before this one's sample is in.
		if err := e.sbcd.WaitCount("call ended", i+1, 5*time.Second); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Until a has 3 calls it is not judged; then its MOS sends calls to b.
	a, _ := gwA.counts()
	b, _ := gwB.counts()
	if a != 3 || b != 2 {
		t.Errorf("a got %d calls, b %d; want 3 and 2", a, b)
	}
	var ex admin.Explanation
	adminJSON(t, "POST", "http://"+adminAddr(net)+"/api/v1/route/explain", "ro", admin.ExplainRequest{SourceRealm: "access", RURIUser: "1"}, &ex)
	if len(ex.Candidates) != 2 || ex.Candidates[0].Trunk != "b" || ex.Candidates[1].Quality == nil ||
		!ex.Candidates[1].Quality.Degraded || ex.Candidates[1].Quality.MOS >= 3.5 || ex.Candidates[1].Quality.Samples != 3 {
		t.Errorf("explanation %+v", ex)
		for _, c := range ex.Candidates {
			t.Logf("candidate %s quality %+v note %q", c.Trunk, c.Quality, c.Note)
		}
	}
}
