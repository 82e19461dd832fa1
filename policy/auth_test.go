package policy

import (
	"strings"
	"testing"
	"time"
)

func TestAuthCompiled(t *testing.T) {
	s, err := Load("testdata/auth.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := s.Realm("access")
	a := r.Auth
	if a == nil || a.Realm != "sbc.example" || a.NonceTTL != 2*time.Minute || strings.Join(a.Algorithms, ",") != "SHA-256,MD5" {
		t.Fatalf("auth = %+v", a)
	}
	if !a.Requires("INVITE") || !a.Requires("REGISTER") || a.Requires("MESSAGE") || a.Requires("OPTIONS") {
		t.Fatal("methods not as configured")
	}
	if s.Realm("core").Auth.Requires("INVITE") {
		t.Fatal("core realm has no auth")
	}
	tests := []struct {
		user                  string
		calls, cps, regs      int
		hasMD5, hasSHA, exist bool
	}{
		{"alice", 5, 1, 3, true, true, true},   // own max_calls, realm defaults otherwise
		{"bob", 2, 1, 3, true, true, true},     // from the file, both hashes
		{"carol", 2, 1, 3, true, false, true},  // htdigest line
		{"dave", 0, 0, 0, false, false, false}, // another realm's line
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			acc := a.Account(tt.user)
			if (acc != nil) != tt.exist {
				t.Fatalf("account = %+v, exists want %v", acc, tt.exist)
			}
			if acc == nil {
				return
			}
			if acc.MaxCalls != tt.calls || acc.MaxCPS != tt.cps || acc.MaxRegistrations != tt.regs {
				t.Fatalf("limits = %+v", acc)
			}
			if (acc.HA1MD5 != "") != tt.hasMD5 || (acc.HA1SHA256 != "") != tt.hasSHA {
				t.Fatalf("hashes = %+v", acc)
			}
		})
	}
	if !r.IsEmergency("911") || !r.IsEmergency("112") || r.IsEmergency("999") {
		t.Fatal("emergency numbers")
	}
	if s.Trunk("pbx").SRTPRequired || !s.Realm("access").Media.SRTPRequired {
		t.Fatal("srtp_required")
	}
	for _, c := range []struct{ num, rule string }{{"0044123", "international"}, {"0900123", "premium"}, {"123", ""}} {
		got := s.FraudRule(c.num)
		if (got == nil && c.rule != "") || (got != nil && got.Name != c.rule) {
			t.Fatalf("FraudRule(%s) = %+v, want %q", c.num, got, c.rule)
		}
	}
	if f := s.Config().Fraud; f.BlockTime != 30*time.Minute || f.Rules[0].CostPerMinute != 0.12 {
		t.Fatalf("fraud = %+v", f)
	}
}

func TestAuthExampleConfig(t *testing.T) {
	s, err := Load("../configs/auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := s.Realm("access").Auth
	for _, u := range []string{"alice", "bob", "carol"} {
		if a.Account(u) == nil {
			t.Errorf("account %s missing", u)
		}
	}
	if tr := s.Trunk("carrier"); !tr.SRTPRequired || !tr.TLS.RequireClientCert || tr.Limits.MaxCalls != 30 {
		t.Errorf("trunk carrier = %+v", tr.TrunkConfig)
	}
}
