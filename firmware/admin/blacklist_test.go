package admin

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc/guard"
)

func TestBlacklistEndpoints(t *testing.T) {
	set, err := policy.Parse("p.yaml", []byte("realms:\n  - name: access\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	g := guard.New(set, guard.Options{Logger: quiet})
	audit := &bytes.Buffer{}
	s := New(Config{Backend: &fakeBackend{}, Audit: audit, Logger: quiet,
		Now: func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }})
	AddBlacklistRoutes(s, g)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	steps := []struct {
		method, path, tok, body string
		status                  int
		contains                string
	}{
		{"GET", "/api/v1/blacklist", "", "", 401, ""},
		{"GET", "/api/v1/blacklist", "ro-secret", "", 200, `"entries": []`},
		{"POST", "/api/v1/blacklist", "ro-secret", `{"address":"192.0.2.1"}`, 403, ""},
		{"POST", "/api/v1/blacklist", "op-secret", `{"address":"192.0.2.1","duration":"30m"}`, 200, `"reason": "manual"`},
		{"POST", "/api/v1/blacklist", "op-secret", `{"address":"2001:db8::1"}`, 200, `"address": "2001:db8::1"`},
		{"POST", "/api/v1/blacklist", "op-secret", `{"address":"not-an-ip"}`, 422, "not an IP address"},
		{"POST", "/api/v1/blacklist", "op-secret", `{"address":"192.0.2.2","duration":"-5m"}`, 422, "duration"},
		{"POST", "/api/v1/blacklist", "op-secret", `{"address":"192.0.2.2","bogus":1}`, 422, "unknown field"},
		{"GET", "/api/v1/blacklist", "ro-secret", "", 200, `"address": "192.0.2.1"`},
		{"DELETE", "/api/v1/blacklist/192.0.2.1", "op-secret", "", 200, `"removed": "192.0.2.1"`},
		{"DELETE", "/api/v1/blacklist/192.0.2.1", "op-secret", "", 404, "not blacklisted"},
		{"DELETE", "/api/v1/blacklist/zzz", "op-secret", "", 422, "not an IP address"},
	}
	for _, st := range steps {
		code, _, raw := do(t, srv, st.method, st.path, st.tok, st.body)
		if code != st.status || !strings.Contains(raw, st.contains) {
			t.Errorf("%s %s: %d %s, want %d containing %q", st.method, st.path, code, raw, st.status, st.contains)
		}
	}
	if g.Blocked(mustAddr("192.0.2.1")) || !g.Blocked(mustAddr("2001:db8::1")) {
		t.Error("blacklist state does not follow the API")
	}
	// Every authorised change (refused ones too) is audited, reads are not.
	lines := strings.Count(audit.String(), "\n")
	if lines != 8 || strings.Contains(audit.String(), `"GET `) {
		t.Errorf("audit log has %d lines:\n%s", lines, audit.String())
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
