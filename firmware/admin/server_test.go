package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct {
	hungUp   []string
	reloads  int
	validate error
}

func token(name string, role Role, secret string) Token {
	return Token{Name: name, Role: role, SHA256: sha256.Sum256([]byte(secret))}
}

func (f *fakeBackend) Tokens() []Token {
	return []Token{token("viewer", ReadOnly, "ro-secret"), token("noc", Operator, "op-secret"), token("li", LawfulIntercept, "li-secret")}
}
func (f *fakeBackend) Status(context.Context) Status {
	return Status{Version: "1.0", ActiveCalls: 2, PolicyHash: "abc"}
}
func (f *fakeBackend) Calls(context.Context) any {
	return []map[string]string{{"id": "c1"}, {"id": "c2"}}
}
func (f *fakeBackend) Call(_ context.Context, id string) (any, error) {
	if id != "c1" {
		return nil, fmt.Errorf("call %q: %w", id, ErrNotFound)
	}
	return map[string]string{"id": "c1"}, nil
}
func (f *fakeBackend) Hangup(_ context.Context, id string) error {
	if id != "c1" {
		return fmt.Errorf("call %q: %w", id, ErrNotFound)
	}
	f.hungUp = append(f.hungUp, id)
	return nil
}
func (f *fakeBackend) Registrations(context.Context) any { return []string{"alice"} }
func (f *fakeBackend) Trunks(context.Context) []Trunk {
	return []Trunk{{Name: "pbx", Realm: "core", Gateways: []Gateway{{Address: "10.0.0.1:5060", Health: "unknown"}}}}
}
func (f *fakeBackend) Policy(context.Context) ([]byte, error) { return []byte("realms: []\n"), nil }
func (f *fakeBackend) Validate(_ context.Context, doc []byte) error {
	if bytes.Contains(doc, []byte("bad")) {
		return Problems{"policy.yaml:1: bad: unknown key", "policy.yaml:2: realms: at least one realm is required"}
	}
	return nil
}
func (f *fakeBackend) Reload(context.Context) (string, error) { f.reloads++; return "def", nil }
func (f *fakeBackend) Summary(context.Context) Summary        { return Summary{ActiveCalls: 2} }

func newTestServer(t *testing.T) (*httptest.Server, *fakeBackend, *bytes.Buffer) {
	t.Helper()
	fb := &fakeBackend{}
	audit := &bytes.Buffer{}
	s := New(Config{Backend: fb, Audit: audit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, fb, audit
}

func do(t *testing.T, srv *httptest.Server, method, path, tok, body string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m, string(raw)
}

func TestAuthAndRoles(t *testing.T) {
	srv, fb, _ := newTestServer(t)
	cases := []struct {
		method, path, tok string
		want              int
	}{
		{"GET", "/api/v1/status", "", 401},
		{"GET", "/api/v1/status", "wrong", 401},
		{"GET", "/api/v1/status", "ro-secret", 200},
		{"GET", "/api/v1/status", "op-secret", 200},
		{"GET", "/api/v1/status", "li-secret", 403},
		{"DELETE", "/api/v1/calls/c1", "ro-secret", 403},
		{"POST", "/api/v1/policy/reload", "ro-secret", 403},
		{"POST", "/api/v1/policy/reload", "li-secret", 403},
	}
	for _, c := range cases {
		got, body, raw := do(t, srv, c.method, c.path, c.tok, "")
		if got != c.want {
			t.Errorf("%s %s with %q = %d, want %d (%s)", c.method, c.path, c.tok, got, c.want, raw)
		}
		if got >= 400 && (body["reason"] == nil || body["reason"] == "") {
			t.Errorf("%s %s: error without a reason: %s", c.method, c.path, raw)
		}
	}
	if len(fb.hungUp) != 0 || fb.reloads != 0 {
		t.Fatalf("a refused request changed state: %v %d", fb.hungUp, fb.reloads)
	}
}

func TestEveryEndpoint(t *testing.T) {
	srv, fb, audit := newTestServer(t)
	for _, c := range []struct {
		method, path, body string
		want               int
		contains           string
	}{
		{"GET", "/api/v1/status", "", 200, `"policy_hash": "abc"`},
		{"GET", "/api/v1/calls", "", 200, `"c2"`},
		{"GET", "/api/v1/calls/c1", "", 200, `"c1"`},
		{"GET", "/api/v1/calls/zz", "", 404, `call \"zz\": not found`},
		{"DELETE", "/api/v1/calls/c1", "", 200, `"hanging up"`},
		{"DELETE", "/api/v1/calls/zz", "", 404, `not found`},
		{"GET", "/api/v1/registrations", "", 200, `"alice"`},
		{"GET", "/api/v1/trunks", "", 200, `"health": "unknown"`},
		{"GET", "/api/v1/policy", "", 200, `realms: []`},
		{"POST", "/api/v1/policy/validate", "realms: []", 200, `"valid": true`},
		{"POST", "/api/v1/policy/validate", "bad: 1", 422, `at least one realm`},
		{"POST", "/api/v1/policy/validate", "", 422, `empty body`},
		{"POST", "/api/v1/policy/reload", "", 200, `"hash": "def"`},
		{"GET", "/api/v1/metrics/summary", "", 200, `"active_calls": 2`},
		{"GET", "/api/v1/nothing", "", 404, `no such endpoint`},
	} {
		got, _, raw := do(t, srv, c.method, c.path, "op-secret", c.body)
		if got != c.want || !strings.Contains(raw, c.contains) {
			t.Errorf("%s %s = %d %s, want %d containing %q", c.method, c.path, got, raw, c.want, c.contains)
		}
	}
	if len(fb.hungUp) != 1 || fb.reloads != 1 {
		t.Errorf("hangups %v reloads %d", fb.hungUp, fb.reloads)
	}
	// Changes are audited (reads are not): two hangups and one reload.
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("audit has %d lines, want 3:\n%s", len(lines), audit)
	}
	var rec AuditRecord
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Token != "noc" || rec.Role != Operator || rec.Action != "DELETE /api/v1/calls/zz" || rec.Status != 404 || rec.Error == "" {
		t.Errorf("audit record %+v", rec)
	}
}

func TestBodyTooLarge(t *testing.T) {
	srv, _, _ := newTestServer(t)
	got, _, raw := do(t, srv, "POST", "/api/v1/policy/validate", "ro-secret", strings.Repeat("a", maxBody+10))
	if got != 413 {
		t.Fatalf("huge body = %d %s, want 413", got, raw)
	}
}

func TestStatusPageServed(t *testing.T) {
	srv := httptest.NewServer(StatusPage())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "/api/v1/calls") || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("status page: %d %q", res.StatusCode, res.Header)
	}
}
