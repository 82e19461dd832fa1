package policy

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

const routeDoc = `realms:
  - name: access
    registrar: true
    allow_headers: [X-Account, user-agent]
    listeners: [{transport: udp, address: 127.0.0.1:5060}]
    media: {port_min: 20000, port_max: 24999}
  - name: core
    listeners: [{transport: udp, address: 127.0.0.1:5080}]
    media: {port_min: 25000, port_max: 29999}
trunks:
  - name: pbx
    realm: core
    gateways:
      - {address: 127.0.0.1:5090}
  - name: carrier
    realm: core
    gateways:
      - {address: 127.0.0.1:6000, priority: 2}
      - {address: 127.0.0.2:6000, priority: 1, weight: 3}
      - {address: 127.0.0.3:6000, priority: 1, weight: 1}
      - {address: 127.0.0.1:6001, priority: 3}
    failover_codes: [503]
  - name: other
    realm: core
    gateways:
      - {address: 127.0.0.1:6002}
routes:
  - name: echo
    match:
      ruri_user: {exact: echo}
      ruri_host: {exact: SBC.Example.net}
    service: echo
  - name: emergency
    match:
      source_realm: access
      ruri_user: {regex: "^(112|911)$"}
    trunks: [carrier, pbx]
  - name: intl
    match:
      ruri_user: {prefix: "+"}
      ruri_host: {prefix: "GW."}
    trunks: [carrier]
  - name: blocked
    match:
      from_user: {regex: "^anonymous$"}
    reject: {code: 403}
  - name: from-carrier
    match:
      source_realm: core
      source_trunk: carrier
    registered: access
  - name: out
    match:
      source_realm: access
    registered: access
    trunks: [pbx]
`

func mustParse(t testing.TB, doc string) *Set {
	t.Helper()
	s, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func trunkNames(ts []*Trunk) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestRoute(t *testing.T) {
	s := mustParse(t, routeDoc)
	tests := []struct {
		name       string
		req        Request
		route      string
		service    string
		registered string
		trunks     []string
		reject     int
	}{
		{"exact user, host case-insensitive", Request{SourceRealm: "core", RURIUser: "echo", RURIHost: "sbc.example.NET"}, "echo", "echo", "", nil, 0},
		{"exact user is case-sensitive", Request{SourceRealm: "core", RURIUser: "Echo", RURIHost: "sbc.example.net"}, "", "", "", nil, 404},
		{"all match fields must match", Request{SourceRealm: "core", RURIUser: "echo", RURIHost: "other"}, "", "", "", nil, 404},
		{"regex", Request{SourceRealm: "access", RURIUser: "112"}, "emergency", "", "", []string{"carrier", "pbx"}, 0},
		{"regex anchored by its author", Request{SourceRealm: "access", RURIUser: "1120"}, "out", "", "access", []string{"pbx"}, 0},
		{"prefix with host prefix case-insensitive", Request{SourceRealm: "core", RURIUser: "+4930", RURIHost: "gw.example.net"}, "intl", "", "", []string{"carrier"}, 0},
		{"prefix longer than value", Request{SourceRealm: "core", RURIUser: "+4930", RURIHost: "gw"}, "", "", "", nil, 404},
		{"reject", Request{SourceRealm: "core", FromUser: "anonymous"}, "blocked", "", "", nil, 403},
		{"source trunk", Request{SourceRealm: "core", SourceTrunk: "carrier"}, "from-carrier", "", "access", nil, 0},
		{"other trunk falls through", Request{SourceRealm: "core", SourceTrunk: "pbx"}, "", "", "", nil, 404},
		{"registered plus trunks", Request{SourceRealm: "access", RURIUser: "alice"}, "out", "", "access", []string{"pbx"}, 0},
		{"unknown realm", Request{SourceRealm: "nowhere"}, "", "", "", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Route(tt.req)
			if d.Route != tt.route || d.Service != tt.service || d.Registered != tt.registered {
				t.Errorf("got route %q service %q registered %q, want %q %q %q", d.Route, d.Service, d.Registered, tt.route, tt.service, tt.registered)
			}
			if got := trunkNames(d.Trunks); len(got) != len(tt.trunks) || (len(got) > 0 && got[0] != tt.trunks[0]) || (len(got) > 1 && got[1] != tt.trunks[1]) {
				t.Errorf("trunks %v, want %v", got, tt.trunks)
			}
			switch {
			case tt.reject == 0 && d.Reject != nil:
				t.Errorf("unexpected reject %+v", *d.Reject)
			case tt.reject != 0 && (d.Reject == nil || d.Reject.Code != tt.reject):
				t.Errorf("reject %+v, want code %d", d.Reject, tt.reject)
			}
		})
	}
	if d := s.Route(Request{}); d.Reject == nil || d.Reject.Reason != "Not Found" {
		t.Errorf("no route: %+v, want 404 Not Found", d.Reject)
	}
	if d := s.Route(Request{SourceRealm: "core", FromUser: "anonymous"}); d.Reject.Reason != "Forbidden" {
		t.Errorf("reject reason default = %q, want Forbidden", d.Reject.Reason)
	}
}

func TestCandidates(t *testing.T) {
	s := mustParse(t, routeDoc)
	tr := s.Trunk("carrier")
	rnd := rand.New(rand.NewPCG(1, 2))
	first := map[string]int{}
	const n = 4000
	for range n {
		c := tr.Candidates(rnd)
		if len(c) != 4 {
			t.Fatalf("got %d candidates, want 4", len(c))
		}
		for i := 1; i < len(c); i++ {
			if c[i].Priority < c[i-1].Priority {
				t.Fatalf("not ordered by priority: %+v", c)
			}
		}
		if c[2].Addr.String() != "127.0.0.1:6000" || c[3].Addr.String() != "127.0.0.1:6001" {
			t.Fatalf("priorities 2 and 3 out of place: %+v", c)
		}
		if c[0].Addr == c[1].Addr {
			t.Fatalf("gateway repeated: %+v", c)
		}
		first[c[0].Addr.Addr().String()]++
	}
	// Weights 3:1 -> the heavier gateway leads about 75% of the time.
	share := float64(first["127.0.0.2"]) / n
	if share < 0.70 || share > 0.80 {
		t.Errorf("weight-3 gateway first in %.3f of orders, want about 0.75 (%v)", share, first)
	}
	// The Set's own order is untouched.
	if tr.Gateways[0].Addr.String() != "127.0.0.2:6000" || tr.Gateways[3].Addr.String() != "127.0.0.1:6001" {
		t.Errorf("Gateways modified: %+v", tr.Gateways)
	}
	if got := tr.Candidates(nil); len(got) != 4 {
		t.Errorf("nil rand: %d candidates", len(got))
	}
	if !tr.FailsOver(503) || tr.FailsOver(408) {
		t.Error("configured failover codes replace the defaults")
	}
}

func TestTrunkByAddr(t *testing.T) {
	s := mustParse(t, routeDoc)
	tests := []struct {
		name  string
		realm string
		src   string
		want  string
	}{
		{"exact", "core", "127.0.0.1:5090", "pbx"},
		{"exact port beats IP", "core", "127.0.0.1:6000", "carrier"},
		{"exact port of third trunk", "core", "127.0.0.1:6002", "other"},
		{"IP only, first trunk in file order", "core", "127.0.0.1:40000", "pbx"},
		{"IP only", "core", "127.0.0.3:5060", "carrier"},
		{"IPv4-mapped", "core", "[::ffff:127.0.0.2]:5060", "carrier"},
		{"wrong realm", "access", "127.0.0.1:5090", ""},
		{"unknown realm", "nowhere", "127.0.0.1:5090", ""},
		{"unknown IP", "core", "127.0.0.9:5090", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.TrunkByAddr(tt.realm, netip.MustParseAddrPort(tt.src))
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tt.want {
				t.Errorf("got %q, want %q", name, tt.want)
			}
		})
	}
	if s.TrunkByAddr("core", netip.AddrPort{}) != nil {
		t.Error("invalid address matched")
	}
}

func TestAccessors(t *testing.T) {
	s := mustParse(t, routeDoc)
	if len(s.Realms()) != 2 || s.Realms()[0].Name != "access" || s.Realms()[1].Name != "core" {
		t.Errorf("Realms() not in file order")
	}
	if len(s.Trunks()) != 3 || s.Trunks()[2].Name != "other" {
		t.Errorf("Trunks() not in file order")
	}
	if s.Realm("nope") != nil || s.Trunk("nope") != nil {
		t.Error("unknown names must give nil")
	}
	a := s.Realm("access")
	for h, want := range map[string]bool{"X-Account": true, "x-account": true, "USER-AGENT": true, "X-Other": false, "": false} {
		if got := a.AllowsHeader(h); got != want {
			t.Errorf("AllowsHeader(%q) = %v, want %v", h, got, want)
		}
	}
	if s.Realm("core").AllowsHeader("X-Account") {
		t.Error("core allows nothing")
	}
}

func BenchmarkRoute(b *testing.B) {
	s := mustParse(b, routeDoc)
	reqs := []Request{
		{SourceRealm: "access", RURIUser: "alice", RURIHost: "sbc.example.net", FromUser: "bob"},
		{SourceRealm: "access", RURIUser: "112", RURIHost: "sbc.example.net", FromUser: "bob"},
		{SourceRealm: "core", SourceTrunk: "carrier", RURIUser: "+493012345", RURIHost: "gw.example.net", FromUser: "+4940"},
		{SourceRealm: "core", RURIUser: "nobody", RURIHost: "x", FromUser: "y"},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d := s.Route(reqs[i%len(reqs)])
		if d.Route == "" && d.Reject == nil {
			b.Fatal("empty decision")
		}
	}
}
