package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRegistrationExampleConfig(t *testing.T) {
	s, err := Load("../configs/registration.yaml")
	if err != nil {
		t.Fatalf("configs/registration.yaml: %v", err)
	}
	if got, want := s.Config().StateDir, filepath.Join("..", "configs", "state"); got != want {
		t.Errorf("state_dir resolved to %q, want %q (next to the policy file)", got, want)
	}
	g := s.Realm("access").Registration
	if g.Forward != "core-registrar" || g.ClientExpires != 60*time.Second || g.UpstreamExpires != 1800*time.Second ||
		g.KeepAlive != 25*time.Second || g.KeepAliveMethod != "options" {
		t.Errorf("access registration %+v", g)
	}
	r := s.Trunk("carrier").Register
	if r == nil || r.Username != "4930123456" || r.AuthUsername != "4930123456" || r.Domain != "sip.carrier.example" ||
		r.Expires != time.Hour || r.RetryMin != 10*time.Second || r.RetryMax != 5*time.Minute {
		t.Errorf("carrier register %+v", r)
	}
	if s.Trunk("core-registrar").Register != nil {
		t.Error("a trunk without register got register settings")
	}
}

func TestRegistrationDefaults(t *testing.T) {
	doc := `
realms:
  - name: access
    listeners: [{transport: udp, address: 127.0.0.1:5060}]
    registrar: true
    registration: {forward: reg}
  - name: core
    listeners: [{transport: udp, address: "[::1]:5080"}]
    media: {address: "::1"}
trunks:
  - name: reg
    realm: core
    gateways: [{address: "[::1]:5070"}]
    register: {username: sbc1}
`
	f := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if s.Config().StateDir != "" {
		t.Errorf("state_dir defaulted to %q, want empty (off)", s.Config().StateDir)
	}
	g := s.Realm("access").Registration
	if g.ClientExpires != DefaultClientExpires || g.UpstreamExpires != DefaultUpstreamExpires ||
		g.KeepAlive != DefaultKeepAlive || g.KeepAliveMethod != DefaultKeepAliveMethod {
		t.Errorf("forwarding defaults %+v", g)
	}
	if c := s.Realm("core").Registration; c.ClientExpires != 0 || c.UpstreamExpires != 0 {
		t.Errorf("a realm that does not forward got expiries %+v", c)
	}
	r := s.Trunk("reg").Register
	if r.Domain != "::1" || r.AuthUsername != "sbc1" || r.Expires != DefaultRegisterExpires ||
		r.RetryMin != DefaultRegisterRetryMin || r.RetryMax != DefaultRegisterRetryMax {
		t.Errorf("trunk register defaults %+v", r)
	}
}
