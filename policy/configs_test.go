package policy

import (
	"net/netip"
	"testing"
)

func TestDefaultConfig(t *testing.T) {
	s, err := Load("../configs/default.yaml")
	if err != nil {
		t.Fatalf("configs/default.yaml: %v", err)
	}
	c := s.Config()
	if c.Media.NG != "127.0.0.1:2223" || c.Admin.Address != "127.0.0.1:8080" {
		t.Errorf("ng %q admin %q", c.Media.NG, c.Admin.Address)
	}
	realms := []struct {
		name      string
		addr      string
		registrar bool
		min, max  int
	}{
		{"access", "127.0.0.1:5060", true, 20000, 24999},
		{"core", "127.0.0.1:5080", false, 25000, 29999},
	}
	if len(s.Realms()) != len(realms) {
		t.Fatalf("%d realms, want %d", len(s.Realms()), len(realms))
	}
	for i, want := range realms {
		r := s.Realms()[i]
		if r.Name != want.name || r.Registrar != want.registrar {
			t.Errorf("realm %d = %s registrar %v", i, r.Name, r.Registrar)
		}
		if len(r.Listeners) < 2 || r.Listeners[0].Transport != "udp" || r.Listeners[1].Transport != "tcp" ||
			r.Listeners[0].Address != want.addr || r.Listeners[1].Address != want.addr {
			t.Errorf("realm %s listeners %+v, want udp+tcp %s", r.Name, r.Listeners, want.addr)
		}
		// The access realm also takes browsers: SIP over WebSocket on 8088.
		if wantWS := want.name == "access"; wantWS != (len(r.Listeners) == 3) {
			t.Errorf("realm %s has %d listeners", r.Name, len(r.Listeners))
		} else if wantWS {
			ws := r.Listeners[2]
			if ws.Transport != "ws" || ws.Address != "127.0.0.1:8088" || !ws.WebSocket.AllowsOrigin("http://127.0.0.1:8080") ||
				ws.WebSocket.AllowsOrigin("http://evil.example") {
				t.Errorf("realm access ws listener %+v", ws)
			}
		}
		if r.MediaAddr != netip.MustParseAddr("127.0.0.1") || r.Media.PortMin != want.min || r.Media.PortMax != want.max {
			t.Errorf("realm %s media %s %d-%d", r.Name, r.MediaAddr, r.Media.PortMin, r.Media.PortMax)
		}
	}
	pbx := s.Trunk("pbx")
	if pbx == nil || pbx.Realm.Name != "core" || len(pbx.Gateways) != 1 ||
		pbx.Gateways[0].Addr != netip.MustParseAddrPort("127.0.0.1:5090") || pbx.Gateways[0].Transport != "udp" {
		t.Fatalf("trunk pbx = %+v", pbx)
	}
	if s.TrunkByAddr("core", netip.MustParseAddrPort("127.0.0.1:5090")) != pbx {
		t.Error("requests from 127.0.0.1:5090 in core are not from pbx")
	}
	tests := []struct {
		req        Request
		route      string
		service    string
		registered string
		trunks     []string
	}{
		{Request{SourceRealm: "access", RURIUser: "echo"}, "echo", "echo", "", nil},
		{Request{SourceRealm: "access", RURIUser: "tone"}, "tone", "tone", "", nil},
		{Request{SourceRealm: "access", RURIUser: "1000"}, "access-out", "", "access", []string{"pbx"}},
		{Request{SourceRealm: "core", SourceTrunk: "pbx", RURIUser: "echo"}, "core-in", "", "access", nil},
	}
	for _, tt := range tests {
		d := s.Route(tt.req)
		got := trunkNames(d.Trunks)
		if d.Route != tt.route || d.Service != tt.service || d.Registered != tt.registered || len(got) != len(tt.trunks) ||
			(len(got) == 1 && got[0] != tt.trunks[0]) || d.Reject != nil {
			t.Errorf("%+v -> %+v, want route %s", tt.req, d, tt.route)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	s, err := Load("../configs/example.yaml")
	if err != nil {
		t.Fatalf("configs/example.yaml: %v", err)
	}
	a := s.Realm("access")
	if a.Advertised != "198.51.100.10" || a.MediaAdvertised != netip.MustParseAddr("198.51.100.10") {
		t.Errorf("NAT addresses: %s / %s", a.Advertised, a.MediaAdvertised)
	}
	if len(a.Inbound) != 3 || len(a.Outbound) != 1 || !a.AllowsHeader("subject") {
		t.Errorf("access rules %d/%d", len(a.Inbound), len(a.Outbound))
	}
	m := newFakeMsg()
	m.users["ruri_user"] = "03012345"
	a.Inbound.Apply(m)
	if m.users["ruri_user"] != "+493012345" {
		t.Errorf("national -> E.164: %q", m.users["ruri_user"])
	}
	m.users["ruri_user"] = "00441234"
	a.Inbound.Apply(m)
	if m.users["ruri_user"] != "+441234" {
		t.Errorf("international -> E.164: %q", m.users["ruri_user"])
	}
	m.users["from_user"] = "+493012345"
	a.Outbound.Apply(m)
	if m.users["from_user"] != "03012345" {
		t.Errorf("E.164 -> national: %q", m.users["from_user"])
	}
	d := s.Route(Request{SourceRealm: "access", RURIUser: "+4930"})
	if got := trunkNames(d.Trunks); d.Route != "outbound" || len(got) != 2 || got[0] != "carrier-a" || got[1] != "carrier-b" {
		t.Errorf("outbound decision %+v", d)
	}
	if d := s.Route(Request{SourceRealm: "access", RURIUser: "+499001"}); d.Reject == nil || d.Reject.Code != 403 {
		t.Errorf("premium rate not barred: %+v", d)
	}
}

func TestWebRTCConfig(t *testing.T) {
	s, err := Load("../configs/webrtc.yaml")
	if err != nil {
		t.Fatalf("configs/webrtc.yaml: %v", err)
	}
	access := s.Realm("access")
	if access == nil || len(access.Listeners) != 2 || access.Listeners[0].Transport != "ws" || access.Listeners[1].Transport != "wss" {
		t.Fatalf("access listeners %+v", access)
	}
	ws := access.Listeners[0].WebSocket
	if ws.MaxConnections != 2000 || ws.IdleTimeout.Seconds() != 120 || !ws.AllowsOrigin("http://127.0.0.1:8080") {
		t.Errorf("ws settings %+v", ws)
	}
	if wss := access.Listeners[1].WebSocket; wss.MaxConnections != DefaultWSMaxConnections || wss.IdleTimeout != DefaultWSIdleTimeout {
		t.Errorf("wss defaults %+v", wss)
	}
	tc := s.Config().TURN
	if !tc.Enabled() || len(tc.Listeners) != 3 || tc.RelayPortMin != 40000 || tc.UserQuota != 10 ||
		len(tc.AllowedPeers()) != 1 || tc.CredentialTTL.Hours() != 12 {
		t.Errorf("turn %+v", tc)
	}
}
