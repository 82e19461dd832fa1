package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestSecurityDefaultsAndExample(t *testing.T) {
	s, err := Load("../configs/security.yaml")
	if err != nil {
		t.Fatalf("configs/security.yaml: %v", err)
	}
	c := s.Config().Security
	if c.Sanity.MaxMessageBytes != 16384 || c.Blacklist.Duration != DefaultBlacklistDuration || len(c.Scanner.UserAgents) == 0 {
		t.Errorf("security section: %+v", c)
	}
	access := s.Realm("access").Security
	if access.RateLimit.Source.Calls != 10 || access.RateLimit.Action != "reject" || access.ACL.Action != "drop" {
		t.Errorf("access realm security: %+v", access)
	}
	if !s.Realm("core").Security.TrunksOnly || s.Trunk("pbx").Security.RateLimit.Burst != DefaultRateBurst {
		t.Error("core/pbx security not as written")
	}

	min, err := Parse("min.yaml", []byte("realms:\n  - name: a\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := min.Config().Security
	if d.Sanity.MaxVia != DefaultMaxVia || d.Scanner.DistinctUsers != DefaultDistinctUsers || d.TCP.MessageTimeout != DefaultTCPMessageTimeout {
		t.Errorf("defaults not filled: %+v", d)
	}
	if r := min.Realm("a").Security.RateLimit; r.Source.Requests != 0 || r.Source.Burst != DefaultRateBurst {
		t.Errorf("rate limits default to none: %+v", r)
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"192.0.2.1", "192.0.2.1/32", true},
		{"192.0.2.77/24", "192.0.2.0/24", true},
		{"2001:db8::1", "2001:db8::1/128", true},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", true},
		{"192.0.2.0/33", "", false},
		{"host.example", "", false},
	}
	for _, tt := range tests {
		p, err := ParsePrefix(tt.in)
		if (err == nil) != tt.ok || (tt.ok && p != netip.MustParsePrefix(tt.want)) {
			t.Errorf("ParsePrefix(%q) = %v, %v", tt.in, p, err)
		}
	}
}

// TestSecurityEveryProblem: every security problem of a file is reported
// with its YAML path and line.
func TestSecurityEveryProblem(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		want []string
	}{
		{`realms:
  - name: access
    listeners:
      - transport: udp
        address: 127.0.0.1:5060
    security:
      acl:
        allow: [10.0.0.0/33]
        deny: [not-an-ip]
        action: block
trunks:
  - name: pbx
    realm: access
    gateways: [{address: 127.0.0.1:5090}]
    security:
      acl: {allow: ["2001:db8::/129"]}
`, []string{
			`:8: realms[0].security.acl.allow[0]: "10.0.0.0/33" is not an IP address or CIDR`,
			`:9: realms[0].security.acl.deny[0]: "not-an-ip" is not an IP address or CIDR`,
			`:10: realms[0].security.acl.action: "block" is not one of drop or reject`,
			`:16: trunks[0].security.acl.allow[0]: "2001:db8::/129" is not an IP address or CIDR`,
		}},
		{`security:
  sanity:
    max_message_bytes: 100000
  blacklist:
    window: 10ms
  scanner:
    unknown_users: 1000
    user_agents: ["", sipvicious]
  tcp:
    max_per_source: -3
realms:
  - name: access
    listeners:
      - transport: udp
        address: 127.0.0.1:5060
    security:
      rate_limit:
        source: {requests: -1}
        action: tarpit
`, []string{
			`:3: security.sanity.max_message_bytes: 100000 is outside 512-65535`,
			`:5: security.blacklist.window: 10ms is below the minimum of 1s`,
			`:7: security.scanner.unknown_users: 1000 is above the maximum of 256`,
			`:8: security.scanner.user_agents[0]: user agent must not be empty`,
			`:10: security.tcp.max_per_source: -3 is outside 1-1048576`,
			`:18: realms[0].security.rate_limit.source.requests: -1 is outside 0-1000000`,
			`:19: realms[0].security.rate_limit.action: "tarpit" is not one of drop or reject`,
		}},
	} {
		_, err := Parse("p.yaml", []byte(tt.doc))
		var es Errors
		if !errors.As(err, &es) || len(es) != len(tt.want) {
			t.Fatalf("got %v, want %d problems", err, len(tt.want))
		}
		for i, w := range tt.want {
			if !strings.Contains(es[i].Error(), "p.yaml"+w) {
				t.Errorf("problem %d: %q, want %q", i, es[i].Error(), w)
			}
		}
	}
}
