package policy

import "testing"

func TestEmergencyRouted(t *testing.T) {
	trunks := []string{"psap"}
	always := func(name string, m MatchConfig) RouteConfig { return RouteConfig{Name: name, Match: m, Trunks: trunks} }
	reject := func(name string, m MatchConfig) RouteConfig {
		return RouteConfig{Name: name, Match: m, Reject: &RejectConfig{Code: 403}}
	}
	user := func(sm StringMatch) MatchConfig { return MatchConfig{RURIUser: sm} }
	night := &TimeMatch{From: "22:00", To: "06:00"}
	tests := []struct {
		name      string
		selection string
		routes    []RouteConfig
		want      bool
	}{
		{"no routes", SelectFirstMatch, nil, false},
		{"catch-all", SelectFirstMatch, []RouteConfig{always("all", MatchConfig{})}, true},
		{"exact", SelectFirstMatch, []RouteConfig{always("e", user(StringMatch{Exact: "911"}))}, true},
		{"prefix", SelectFirstMatch, []RouteConfig{always("p", user(StringMatch{Prefix: "9"}))}, true},
		{"regex", SelectFirstMatch, []RouteConfig{always("r", user(StringMatch{Regex: "^(911|112)$"}))}, true},
		{"other number", SelectFirstMatch, []RouteConfig{always("e", user(StringMatch{Exact: "112"}))}, false},
		{"other realm", SelectFirstMatch, []RouteConfig{always("c", MatchConfig{SourceRealm: "core"})}, false},
		{"own realm", SelectFirstMatch, []RouteConfig{always("a", MatchConfig{SourceRealm: "access"})}, true},
		{"only at night", SelectFirstMatch, []RouteConfig{always("n", MatchConfig{Time: night})}, false},
		{"only from a trunk", SelectFirstMatch, []RouteConfig{always("t", MatchConfig{SourceTrunk: "pbx"})}, false},
		{"rejected first", SelectFirstMatch, []RouteConfig{reject("deny9", user(StringMatch{Prefix: "9"})), always("all", MatchConfig{})}, false},
		{"service", SelectFirstMatch, []RouteConfig{{Name: "s", Service: "echo"}}, false},
		{"conditional reject before", SelectFirstMatch, []RouteConfig{
			reject("night", MatchConfig{Time: night}), always("all", MatchConfig{})}, false},
		{"conditional route before", SelectFirstMatch, []RouteConfig{
			always("night", MatchConfig{Time: night}), always("all", MatchConfig{})}, true},
		{"longest: specific wins over reject-all", SelectLongestPrefix, []RouteConfig{
			reject("deny", user(StringMatch{Prefix: "9"})), always("e", user(StringMatch{Exact: "911"}))}, true},
		{"longest: specific reject", SelectLongestPrefix, []RouteConfig{
			always("all", MatchConfig{}), reject("deny", user(StringMatch{Prefix: "91"}))}, false},
		{"longest: less specific conditional reject", SelectLongestPrefix, []RouteConfig{
			reject("night", MatchConfig{Time: night}), always("e", user(StringMatch{Prefix: "911"}))}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &validator{cfg: &Config{RouteSelection: tc.selection, Routes: tc.routes}}
			if got := v.emergencyRouted("access", "911"); got != tc.want {
				t.Errorf("emergencyRouted = %v, want %v", got, tc.want)
			}
		})
	}
}
