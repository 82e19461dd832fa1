package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

func tokenHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sbcctl runs the CLI and returns its exit code and output.
func sbcctl(t *testing.T, token string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(needSbcctl(t), args...)
	cmd.Env = append(os.Environ(), "SBCCTL_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestAdminAPIWithSbcctl(t *testing.T) {
	t.Parallel()
	const net = 22
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin = policy.AdminConfig{Address: admin, AuditLog: audit, Tokens: []policy.AdminToken{
			{Name: "noc", Role: "operator", SHA256: tokenHash("op-token")},
			{Name: "viewer", Role: "read_only", SHA256: tokenHash("ro-token")},
		}}
	})
	flags := []string{"-admin", admin}
	ctl := func(token string, args ...string) (int, string, string) {
		return sbcctl(t, token, append(append([]string{}, flags...), args...)...)
	}

	// Without a token or with a wrong one, nothing is served.
	if code, _, errOut := ctl("", "status"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("status without token: exit %d %q", code, errOut)
	}
	if code, out, _ := ctl("ro-token", "status"); code != 0 || !strings.Contains(out, "realms") || !strings.Contains(out, "access, core") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}

	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_callee_bye.xml", 0, nil)
	var id string
	deadline := time.Now().Add(5 * time.Second)
	for id == "" && time.Now().Before(deadline) {
		code, out, _ := ctl("ro-token", "-json", "calls")
		if code != 0 {
			t.Fatalf("calls -json: exit %d", code)
		}
		var calls []struct {
			ID, State string
		}
		if err := json.Unmarshal([]byte(out), &calls); err != nil {
			t.Fatalf("calls -json is not JSON: %v\n%s", err, out)
		}
		if len(calls) == 1 && calls[0].State == "confirmed" {
			id = calls[0].ID
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if id == "" {
		t.Fatal("the call never showed as confirmed")
	}
	if code, out, _ := ctl("ro-token", "calls"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "confirmed") || !strings.Contains(out, "pbx") {
		t.Errorf("calls table: exit %d\n%s", code, out)
	}
	if code, out, _ := ctl("ro-token", "call", id); code != 0 || !strings.Contains(out, "LEG") || !strings.Contains(out, e.topo.Gateway(0)) || !strings.Contains(out, "MOS") {
		t.Errorf("call show: exit %d\n%s", code, out)
	}
	if code, out, _ := ctl("ro-token", "trunks"); code != 0 || !strings.Contains(out, e.topo.Gateway(0)) || !strings.Contains(out, "unchecked") {
		t.Errorf("trunks: exit %d\n%s", code, out)
	}
	if code, _, errOut := ctl("ro-token", "hangup", id); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("read-only hangup: exit %d %q", code, errOut)
	}
	if code, _, errOut := ctl("op-token", "hangup", "no-such-call"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("hangup of an unknown call: exit %d %q", code, errOut)
	}
	if code, out, errOut := ctl("op-token", "hangup", id); code != 0 || !strings.Contains(out, "hanging up") {
		t.Fatalf("hangup: exit %d %s %s", code, out, errOut)
	}
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "admin"})

	// Policy: show, validate a bad file, reload.
	if code, out, _ := ctl("ro-token", "policy", "show"); code != 0 || !strings.Contains(out, "access-to-pbx") {
		t.Errorf("policy show: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("realms:\n  - name: x\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := ctl("ro-token", "policy", "validate", bad); code != 1 || !strings.Contains(errOut, "422") || !strings.Contains(errOut, "bogus") {
		t.Errorf("validate bad: exit %d %q", code, errOut)
	}
	if code, out, _ := ctl("ro-token", "policy", "validate", e.cfgPath); code != 0 || !strings.Contains(out, "true") {
		t.Errorf("validate good: exit %d %q", code, out)
	}
	if code, out, errOut := ctl("op-token", "policy", "reload"); code != 0 || !strings.Contains(out, "reloaded") {
		t.Errorf("reload: exit %d %s %s", code, out, errOut)
	}
	if _, err := e.sbcd.WaitMsg("policy reloaded", 5*time.Second); err != nil {
		t.Error(err)
	}
	if code, out, _ := ctl("ro-token", "summary"); code != 0 || !strings.Contains(out, "calls answered") {
		t.Errorf("summary: exit %d\n%s", code, out)
	}
	if code, out, _ := ctl("", "health"); code != 0 || !strings.HasPrefix(out, "ok") {
		t.Errorf("health: exit %d %q", code, out)
	}

	// The audit log holds the changes: two hangups (one refused as unknown) and the reload.
	raw, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `"token":"noc"`) || !strings.Contains(lines[2], "/api/v1/policy/reload") {
		t.Errorf("audit log:\n%s", raw)
	}
}

// TestAdminEveryEndpointAuth: every endpoint of the admin API refuses a
// request without a token (401), one with an unknown token (401), the
// lawful-interception role (403: it is separate from the operating roles)
// and, for endpoints that change state, the read-only role (403); the
// roles allowed get past authorisation (whatever the endpoint then says
// about the made-up ids and empty bodies used here).
func TestAdminEveryEndpointAuth(t *testing.T) {
	t.Parallel()
	const net = 102
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	e := newEnv(t, net, func(c *policy.Config) {
		c.Capture.Dir = t.TempDir()
		c.Admin = policy.AdminConfig{Address: admin, AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), Tokens: []policy.AdminToken{
			{Name: "noc", Role: "operator", SHA256: tokenHash("op-token")},
			{Name: "viewer", Role: "read_only", SHA256: tokenHash("ro-token")},
			{Name: "li", Role: "lawful_intercept", SHA256: tokenHash("li-token")},
		}}
	})
	_ = e
	endpoints := []struct {
		method, path string
		operator     bool // needs the operator role
	}{
		{"GET", "/api/v1/status", false},
		{"GET", "/api/v1/calls", false},
		{"GET", "/api/v1/calls/no-such-call", false},
		{"DELETE", "/api/v1/calls/no-such-call", true},
		{"POST", "/api/v1/calls/no-such-call/recording", true},
		{"DELETE", "/api/v1/calls/no-such-call/recording", true},
		{"GET", "/api/v1/registrations", false},
		{"GET", "/api/v1/registrations/outbound", false},
		{"GET", "/api/v1/trunks", false},
		{"GET", "/api/v1/blacklist", false},
		{"POST", "/api/v1/blacklist", true},
		{"DELETE", "/api/v1/blacklist/192.0.2.7", true},
		{"GET", "/api/v1/policy", false},
		{"POST", "/api/v1/policy/validate", false},
		{"POST", "/api/v1/policy/reload", true},
		{"POST", "/api/v1/route/explain", false},
		{"GET", "/api/v1/captures", false},
		{"POST", "/api/v1/captures", true},
		{"POST", "/api/v1/captures/ring", true},
		{"GET", "/api/v1/captures/stats", false},
		{"DELETE", "/api/v1/captures/no-such-capture", true},
		{"GET", "/api/v1/captures/no-such-capture/file", true},
		{"GET", "/api/v1/metrics/summary", false},
		{"GET", "/api/v1/turn/credentials", false},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	do := func(method, path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+admin+path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return res.StatusCode, string(body)
	}
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			for _, c := range []struct {
				token string
				want  int // 0: anything but 401/403
			}{
				{"", http.StatusUnauthorized},
				{"not-a-token", http.StatusUnauthorized},
				{"li-token", http.StatusForbidden},
				{"ro-token", map[bool]int{true: http.StatusForbidden, false: 0}[ep.operator]},
				{"op-token", 0},
			} {
				code, body := do(ep.method, ep.path, c.token)
				switch {
				case c.want == 0 && (code == http.StatusUnauthorized || code == http.StatusForbidden):
					t.Errorf("token %q: %d %s, want past authorisation", c.token, code, body)
				case c.want != 0 && code != c.want:
					t.Errorf("token %q: %d %s, want %d", c.token, code, body, c.want)
				case c.want != 0 && !strings.Contains(body, `"error"`):
					t.Errorf("token %q: %d without a JSON error reason: %s", c.token, code, body)
				}
			}
		})
	}
}
