package policy

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const routingDoc = `realms:
  - name: access
    listeners: [{transport: udp, address: 127.0.0.1:5060}]
    media: {port_min: 20000, port_max: 24999}
  - name: core
    listeners: [{transport: udp, address: 127.0.0.1:5080}]
    media: {port_min: 25000, port_max: 29999}
trunks:
  - {name: a, realm: core, gateways: [{address: 127.0.0.1:6001}], health_check: {interval: 1s, timeout: 500ms}}
  - {name: b, realm: core, gateways: [{address: 127.0.0.1:6002}]}
  - {name: c, realm: core, gateways: [{address: 127.0.0.1:6003}]}
rate_tables:
  - name: world
    file: rates.csv
    rates:
      - {prefix: "49", trunk: c, cost: 0.002}
route_selection: longest_prefix
routes:
  - name: office-hours
    match:
      ruri_user: {prefix: "0800"}
      time: {zone: Europe/Berlin, days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00"}
    trunks: [a]
  - name: night
    match:
      ruri_user: {prefix: "080"}
      time: {zone: Europe/Berlin, from: "22:00", to: "06:00"}
    trunks: [b]
  - name: tenant
    match:
      headers: [{name: X-Tenant, exact: acme}]
    trunks: [c, a]
    translate:
      - {pattern: "^0", replacement: "+49"}
      - {target: from_user, pattern: "^(.*)$", replacement: "acme-$1"}
  - name: lcr
    match: {ruri_user: {prefix: "00"}}
    trunks: [a, b, c]
    strategy: least_cost
    rate_table: world
    translate: [{pattern: "^00", replacement: ""}]
    failover: {codes: [503, 502], max_attempts: 2, setup_timeout: 20s}
  - name: spread
    match: {ruri_user: {prefix: "1"}}
    trunks: [a, b, c]
    strategy: weighted
    weights: {a: 6, b: 3}
  - name: best
    match: {ruri_user: {prefix: "2"}}
    trunks: [a, b, c]
    strategy: quality
    quality: {min_samples: 5, min_mos: 3.8}
  - name: default
    trunks: [a, b]
`

const routingRates = `prefix,trunk,cost
# comment
44,a,0.010
44,b,0.008
441,a,0.005
4930,b,0.001
,a,0.5
`

func parseRouting(t testing.TB) *Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rates.csv"), []byte(routingRates), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(filepath.Join(dir, "p.yaml"), []byte(routingDoc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// fakeLive marks trunks down and gives them quality figures.
type fakeLive struct {
	down    map[string]bool
	quality map[string]TrunkQuality
}

func (f fakeLive) TrunkAvailable(t *Trunk) bool { return !f.down[t.Name] }
func (f fakeLive) TrunkQuality(_ string, t *Trunk, _ QualityConfig) TrunkQuality {
	return f.quality[t.Name]
}

func berlin(t *testing.T, s string) time.Time {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestLeastCost(t *testing.T) {
	s := parseRouting(t)
	tests := []struct {
		name   string
		user   string
		trunks []string
		costs  []float64
	}{
		{"cheapest of two for 44", "00442071234", []string{"b", "a"}, []float64{0.008, 0.010}},
		{"longer prefix of a wins for 441", "00441234", []string{"a", "b"}, []float64{0.005, 0.008}},
		{"per-trunk longest prefix", "0049301234", []string{"b", "c", "a"}, []float64{0.001, 0.002, 0.5}},
		{"only the catch-all rate", "0033123", []string{"a"}, []float64{0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Decide(Request{SourceRealm: "access", RURIUser: tt.user}, nil, nil)
			if d.Route != "lcr" || d.Strategy != StrategyLeastCost {
				t.Fatalf("route %q strategy %q", d.Route, d.Strategy)
			}
			if got := trunkNames(d.Trunks); strings.Join(got, ",") != strings.Join(tt.trunks, ",") {
				t.Fatalf("trunks %v, want %v (%+v)", got, tt.trunks, d.Candidates)
			}
			for i, c := range d.Candidates[:len(tt.costs)] {
				if !c.HasCost || c.Cost != tt.costs[i] {
					t.Errorf("candidate %d %+v, want cost %v", i, c, tt.costs[i])
				}
			}
			if d.CalledUser != strings.TrimPrefix(tt.user, "00") {
				t.Errorf("called user %q: translation not applied", d.CalledUser)
			}
		})
	}
	d := s.Route(Request{RURIUser: "0033123"})
	if n := len(d.Candidates); n != 3 || d.Candidates[2].Usable || !strings.Contains(d.Candidates[2].Note, "no rate") {
		t.Errorf("trunks without a rate must stay as unusable candidates: %+v", d.Candidates)
	}
	if !d.Failover.FailsOver(502, nil) || d.Failover.FailsOver(480, s.Trunk("a")) || d.Failover.MaxAttempts != 2 ||
		d.Failover.SetupTimeout != 20*time.Second || d.Failover.AttemptTimeout != DefaultInviteTimeout {
		t.Errorf("route failover %+v codes %v", d.Failover, d.Failover.Codes())
	}
	if dd := s.Route(Request{RURIUser: "1"}); !dd.Failover.FailsOver(480, s.Trunk("a")) || dd.Failover.FailsOver(486, s.Trunk("a")) {
		t.Error("without route codes, the trunk's failover codes apply")
	}
}

func TestLeastCostSkipsDownTrunks(t *testing.T) {
	s := parseRouting(t)
	d := s.Decide(Request{RURIUser: "00442071234"}, fakeLive{down: map[string]bool{"b": true}}, nil)
	if got := strings.Join(trunkNames(d.Trunks), ","); got != "a" {
		t.Errorf("trunks %s, want a (b is down)", got)
	}
	if d.Candidates[0].Name != "b" || d.Candidates[0].Usable || d.Candidates[0].Note != "no gateway in service" {
		t.Errorf("down trunk not explained: %+v", d.Candidates[0])
	}
}

func TestWeighted(t *testing.T) {
	s := parseRouting(t)
	rnd := rand.New(rand.NewPCG(7, 9))
	first := map[string]int{}
	const n = 10000
	for range n {
		d := s.Decide(Request{RURIUser: "123"}, nil, rnd)
		if len(d.Trunks) != 3 {
			t.Fatalf("trunks %v", trunkNames(d.Trunks))
		}
		first[d.Trunks[0].Name]++
	}
	// Weights 6:3:1.
	for name, want := range map[string]float64{"a": 0.6, "b": 0.3, "c": 0.1} {
		if got := float64(first[name]) / n; got < want-0.03 || got > want+0.03 {
			t.Errorf("trunk %s first in %.3f of calls, want about %.1f (%v)", name, got, want, first)
		}
	}
}

func TestQualityOrder(t *testing.T) {
	s := parseRouting(t)
	live := fakeLive{quality: map[string]TrunkQuality{
		"a": {Samples: 20, MOS: 2.1, Judged: true, Degraded: true},
		"b": {Samples: 20, MOS: 4.3, Judged: true},
		"c": {Samples: 20, MOS: 3.0, Judged: true, Degraded: true},
	}}
	d := s.Decide(Request{RURIUser: "2"}, live, nil)
	if got := strings.Join(trunkNames(d.Trunks), ","); got != "b,c,a" {
		t.Errorf("quality order %s, want b,c,a (healthy first, then degraded by MOS)", got)
	}
	d = s.Decide(Request{RURIUser: "2"}, fakeLive{}, nil)
	if got := strings.Join(trunkNames(d.Trunks), ","); got != "a,b,c" {
		t.Errorf("unjudged trunks keep their order: %s", got)
	}
	if !strings.Contains(d.Candidates[0].Note, "not judged yet (0 of 5 calls)") {
		t.Errorf("note %q", d.Candidates[0].Note)
	}
}

func TestTimeAndHeaders(t *testing.T) {
	s := parseRouting(t)
	acme := func(name string) []string {
		if strings.EqualFold(name, "x-tenant") {
			return []string{" acme"}
		}
		return nil
	}
	tests := []struct {
		name    string
		req     Request
		route   string
		called  string
		calling string
	}{
		{"weekday office hours", Request{RURIUser: "08001", Time: berlin(t, "2026-11-24 09:30")}, "office-hours", "08001", ""},
		{"office hours end at 18:00", Request{RURIUser: "08001", Time: berlin(t, "2026-11-24 18:00")}, "default", "08001", ""},
		{"saturday is not an office day", Request{RURIUser: "08001", Time: berlin(t, "2026-11-28 10:00")}, "default", "08001", ""},
		{"night window before midnight", Request{RURIUser: "08001", Time: berlin(t, "2026-11-28 23:10")}, "night", "08001", ""},
		{"night window after midnight", Request{RURIUser: "0801", Time: berlin(t, "2026-11-25 05:59")}, "night", "0801", ""},
		{"zone applies: 07:30 UTC is 08:30 in Berlin", Request{RURIUser: "08001", Time: time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)}, "office-hours", "08001", ""},
		{"header match with translation", Request{RURIUser: "0301234", FromUser: "bob", Headers: acme, Time: berlin(t, "2026-11-24 12:00")}, "tenant", "+49301234", "acme-bob"},
		{"header absent", Request{RURIUser: "0301234", FromUser: "bob", Time: berlin(t, "2026-11-24 12:00")}, "default", "0301234", "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(tt.req)
			if d.Route != tt.route || d.CalledUser != tt.called || (tt.calling != "" && d.CallingUser != tt.calling) {
				t.Errorf("route %q called %q calling %q, want %q %q %q", d.Route, d.CalledUser, d.CallingUser, tt.route, tt.called, tt.calling)
			}
		})
	}
}

func TestLongestPrefixAndExplain(t *testing.T) {
	s := parseRouting(t)
	// 0800 (office-hours) is longer than 080 (night); both match at 23:00 on a weekday? office-hours does not.
	d := s.Decide(Request{RURIUser: "08001", Time: berlin(t, "2026-11-24 23:00"), Explain: true}, nil, nil)
	if d.Route != "night" {
		t.Fatalf("route %q, want night", d.Route)
	}
	if len(d.Checked) != len(s.routes) {
		t.Fatalf("longest_prefix looks at every route: %d checked", len(d.Checked))
	}
	if c := d.Checked[0]; c.Matched || !strings.Contains(c.Why, "is outside mon,tue,wed,thu,fri 08:00-18:00 Europe/Berlin") {
		t.Errorf("office-hours check %+v", c)
	}
	if c := d.Checked[3]; c.Matched || c.Why != `ruri_user "08001" does not match prefix "00"` {
		t.Errorf("lcr check %+v", c)
	}
	// Both office-hours and night match: the longer prefix wins regardless of order.
	if d := s.Route(Request{RURIUser: "08001", Time: berlin(t, "2026-11-24 05:00")}); d.Route != "night" {
		t.Errorf("05:00 Tuesday: %q", d.Route)
	}
	if d := s.Route(Request{RURIUser: "08001", Time: berlin(t, "2026-11-24 17:00")}); d.Route != "office-hours" {
		t.Errorf("17:00 Tuesday: %q", d.Route)
	}
}

func TestRateFileErrors(t *testing.T) {
	tests := []struct {
		name, csv, want string
	}{
		{"fields", "44,a\n", "line 1: want 3 fields (prefix,trunk,cost), got 2"},
		{"cost", "prefix,trunk,cost\n44,a,cheap\n", `line 2: cost "cheap" is not a number`},
		{"negative", "44,a,-1\n", "line 1: cost -1 must be between 0 and 1e9"},
		{"prefix", "4x,a,1\n", `line 1: prefix "4x" must be digits`},
		{"quote", "\"44,a,1\n", "line 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRates([]byte(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	// Through Parse: the error names the YAML path, line and file.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rates.csv"), []byte("44,a,1\n44,zz,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(filepath.Join(dir, "p.yaml"), []byte(routingDoc))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != "rate_tables[0].file" || errs[0].Line != 14 ||
		!strings.Contains(errs[0].Msg, `rates.csv: line 2: unknown trunk "zz"`) {
		t.Errorf("got %v", err)
	}
}

func FuzzParseRates(f *testing.F) {
	f.Add([]byte(routingRates))
	f.Add([]byte("\"a,\"b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rates, err := parseRates(data)
		if err != nil {
			return
		}
		for _, r := range rates {
			if checkRate(r.Prefix, r.Trunk, r.Cost) != "" {
				t.Fatalf("accepted invalid rate %+v", r)
			}
		}
		newRateTable("f", rates).lookup("a", "4412345")
	})
}

func BenchmarkDecideLeastCost(b *testing.B) {
	s := parseRouting(b)
	req := Request{SourceRealm: "access", RURIUser: "00442071234"}
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Decide(req, nil, nil); len(d.Trunks) != 2 {
			b.Fatal(trunkNames(d.Trunks))
		}
	}
}

func TestRoutingProblems(t *testing.T) {
	const head = `realms:
  - name: core
    listeners: [{transport: udp, address: 127.0.0.1:5080}]
trunks:
  - name: a
    realm: core
    gateways: [{address: 127.0.0.1:6001}]
`
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"strategies", `    health_check: {interval: 50ms, failures: 101}
rate_tables:
  - name: world
    rates:
      - {prefix: "4a", trunk: a, cost: 1}
      - {prefix: "44", trunk: b, cost: 1}
  - name: empty
route_selection: longest
routes:
  - name: spread
    trunks: [a]
    strategy: weighted
    weights: {b: 2}
    failover: {codes: [200], max_attempts: -1, setup_timeout: -1s}
  - name: best
    trunks: [a]
    strategy: cheapest
    quality: {min_mos: 6, hysteresis: 1.5}
    translate: [{target: to_user, pattern: "(", replacement: "a b"}]
  - name: lcr
    trunks: [a]
    strategy: ordered
    rate_table: world
`, []string{
			"8: trunks[0].health_check.interval: 50ms is below the minimum of 100ms",
			"8: trunks[0].health_check.failures: 101 is outside 1-100",
			`12: rate_tables[0].rates[0]: prefix "4a" must be digits, optionally after a leading +`,
			`13: rate_tables[0].rates[1].trunk: unknown trunk "b"`,
			"14: rate_tables[1]: rate table needs rates, a file, or both",
			`15: route_selection: "longest" is not one of first_match or longest_prefix`,
			`20: routes[0].weights.b: trunk "b" is not in this route's trunks`,
			"21: routes[0].failover.codes[0]: 200 is outside 300-699",
			"21: routes[0].failover.max_attempts: -1 is outside 0-100",
			"21: routes[0].failover.setup_timeout: -1s must not be negative",
			`24: routes[1].strategy: "cheapest" is not one of ordered, weighted, least_cost or quality`,
			"25: routes[1].quality: quality applies only to strategy quality",
			"25: routes[1].quality.min_mos: 6 is outside 1-5",
			"25: routes[1].quality.hysteresis: 1.5 is outside 0-1",
			`26: routes[1].translate[0].target: "to_user" is not one of ruri_user or from_user`,
			`26: routes[1].translate[0].pattern: invalid regex "("`,
			"26: routes[1].translate[0].replacement: must not contain",
			"30: routes[2].rate_table: rate_table applies only to strategy least_cost",
		}},
		{"matches", `routes:
  - name: tod
    match:
      time: {days: [mon, funday], from: "8:00", to: "25:00"}
      headers:
        - {name: "X Bad"}
        - {name: X-Tenant, exact: a, regex: b}
    trunks: [a]
  - name: same
    match:
      time: {from: "10:00", to: "10:00"}
    trunks: [a]
  - name: rate
    trunks: [a]
    strategy: least_cost
    rate_table: nowhere
`, []string{
			`11: routes[0].match.time.days[1]: "funday" is not one of mon, tue, wed, thu, fri, sat or sun`,
			`11: routes[0].match.time.from: "8:00" is not a time of day as HH:MM (00:00-23:59)`,
			`11: routes[0].match.time.to: "25:00" is not a time of day as HH:MM (00:00-23:59)`,
			`13: routes[0].match.headers[0].name: "X Bad" is not a valid header name`,
			"13: routes[0].match.headers[0]: set one of exact, prefix or regex",
			"14: routes[0].match.headers[1]: set only one of exact, prefix or regex (got exact and regex)",
			"18: routes[1].match.time: from and to are equal: leave both out for the whole day",
			`23: routes[2].rate_table: unknown rate table "nowhere"`,
		}},
		{"rate file", `rate_tables:
  - name: world
    file: missing.csv
`, []string{"10: rate_tables[0].file: ", "missing.csv: no such file or directory"}},
		{"float type", `rate_tables:
  - name: world
    rates: [{prefix: "1", trunk: a, cost: cheap}]
`, []string{`10: rate_tables[0].rates[0].cost: expected a number, got "cheap"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(t.TempDir(), "p.yaml"), []byte(head+tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("not Errors: %v", err)
			}
			got := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			if tt.name != "rate file" && len(errs) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(errs), len(tt.want), got)
			}
		})
	}
}

func TestRoutingExampleConfig(t *testing.T) {
	s, err := Load("../configs/routing.yaml")
	if err != nil {
		t.Fatalf("configs/routing.yaml: %v", err)
	}
	tests := []struct {
		name   string
		req    Request
		route  string
		trunks string
		called string
	}{
		{"London is cheaper over a for 4420", Request{SourceRealm: "access", RURIUser: "00442071234"}, "international", "carrier-a,carrier-b", "442071234"},
		{"UK mobile cheaper over b", Request{SourceRealm: "access", RURIUser: "00447700900"}, "international", "carrier-b,carrier-a", "447700900"},
		{"US only over b (policy entry)", Request{SourceRealm: "access", RURIUser: "0012125550"}, "international", "carrier-b", "12125550"},
		{"national to E.164", Request{SourceRealm: "access", RURIUser: "0301234"}, "national", "carrier-a,carrier-b", "+49301234"},
		{"hotline in office hours", Request{SourceRealm: "access", RURIUser: "0800123", Time: berlin(t, "2026-11-24 10:00")}, "hotline-office-hours", "hotline-day", "0800123"},
		{"hotline at night", Request{SourceRealm: "access", RURIUser: "0800123", Time: berlin(t, "2026-11-24 22:00")}, "hotline-after-hours", "", "0800123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(tt.req)
			if d.Route != tt.route || d.CalledUser != tt.called {
				t.Fatalf("route %q called %q, want %q %q", d.Route, d.CalledUser, tt.route, tt.called)
			}
			if got := strings.Join(trunkNames(d.Trunks), ","); tt.trunks != "" && got != tt.trunks {
				t.Errorf("trunks %s, want %s", got, tt.trunks)
			}
		})
	}
	if tr := s.Trunk("carrier-b"); tr.HealthCheck == nil || tr.HealthCheck.Timeout != DefaultHealthTimeout || tr.HealthCheck.Failures != 3 {
		t.Errorf("health check defaults: %+v", tr.HealthCheck)
	}
}
