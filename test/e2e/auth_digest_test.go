package e2e

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/openborder/openborder/policy"
)

// authRealm is the digest realm of the e2e auth tests.
const authRealm = "sbc.test"

// account builds a policy user with both HA1 hashes of password.
func account(user, password string) policy.AccountConfig {
	m := md5.Sum([]byte(user + ":" + authRealm + ":" + password))
	s := sha256.Sum256([]byte(user + ":" + authRealm + ":" + password))
	return policy.AccountConfig{Name: user, HA1MD5: hex.EncodeToString(m[:]), HA1SHA256: hex.EncodeToString(s[:])}
}

// withAuth makes the access realm a registrar that authenticates with
// the given algorithms and users.
func withAuth(algs []string, ttl time.Duration, users ...policy.AccountConfig) func(*policy.Config) {
	return func(c *policy.Config) {
		c.Realms[0].Registrar = true
		c.Realms[0].Auth = &policy.AuthConfig{Realm: authRealm, Algorithms: algs, NonceTTL: ttl, Users: users}
	}
}

// TestAuthDigestSipp: sipp's [authentication] registers (401) and calls
// (407) through a realm that requires digest authentication (MD5: the
// algorithm sipp implements); a wrong password never reaches the callee.
func TestAuthDigestSipp(t *testing.T) {
	t.Parallel()
	const net = 35
	e := newEnv(t, net, withAuth([]string{"MD5"}, 0, account("alice", "wonderland")))
	auth := func(pass string) func(*SippOpts) {
		return func(o *SippOpts) { o.Extra = append(o.Extra, "-au", "alice", "-ap", pass) }
	}

	reg := e.caller("register", "register_auth.xml", 0, func(o *SippOpts) {
		o.Service = "alice"
		auth("wonderland")(o)
	}).Wait(t)
	wantExit0(t, reg)
	if got := reg.Responses(false, 401, "REGISTER"); len(got) != 1 || !strings.Contains(got[0].Header("WWW-Authenticate"), `realm="sbc.test"`) {
		t.Fatalf("REGISTER challenge: %v", got)
	}

	uas := e.callee("uas", "uas_basic.xml", 0, nil)
	uac := e.caller("uac", "uac_auth.xml", 0, func(o *SippOpts) { o.Service = "5000"; auth("wonderland")(o) })
	caller := uac.Wait(t)
	callee := uas.Wait(t)
	wantExit0(t, caller, callee)
	chal := caller.Responses(false, 407, "INVITE")
	if len(chal) != 1 {
		t.Fatalf("caller got %d 407s, want 1", len(chal))
	}
	if h := chal[0].Header("Proxy-Authenticate"); !strings.Contains(h, "algorithm=MD5") || !strings.Contains(h, `qop="auth"`) {
		t.Fatalf("Proxy-Authenticate %q", h)
	}
	for _, inv := range callee.Requests(false, "INVITE") {
		if inv.Header("Proxy-Authorization") != "" {
			t.Fatal("credentials crossed the border")
		}
	}

	// A wrong password: challenged again, never routed.
	uas2 := e.callee("uas2", "uas_basic.xml", 0, func(o *SippOpts) { o.Timeout = 4 * time.Second })
	bad := e.caller("uac-bad", "uac_auth.xml", 0, func(o *SippOpts) {
		o.Service = "5000"
		o.Timeout = 3 * time.Second
		auth("guess")(o)
	}).Wait(t)
	if bad.ExitCode == 0 {
		t.Fatal("call with a wrong password succeeded")
	}
	// The answer is challenged again (as are sipp's retransmissions of it).
	if n := len(bad.Responses(false, 407, "INVITE")); n < 2 || len(bad.Responses(false, 200, "INVITE")) != 0 {
		t.Fatalf("wrong password: %d 407s, want at least 2 and no 200\n%s", n, bad.Report())
	}
	if got := uas2.Stop(t).Requests(false, "INVITE"); len(got) != 0 {
		t.Fatalf("callee got %d INVITEs from an unauthenticated caller", len(got))
	}

	t.Run("baresip", func(t *testing.T) { baresipRegisterAndCall(t, e) })
}

// baresipRegisterAndCall runs baresip headless as alice: it registers
// through sbcd with its password (401 answered), calls 5000 (407
// answered), the sipp callee answers, and baresip hangs up when it quits.
func baresipRegisterAndCall(t *testing.T, e *env) {
	bin := RequireTool(t, "baresip")
	dir := t.TempDir()
	local := fmt.Sprintf("%s:%d", e.topo.CallerIP(3), CallerPort)
	config := "poll_method epoll\nsip_listen " + local + "\naudio_player aubridge,nil\naudio_source aubridge,nil\n" +
		"audio_alert aubridge,nil\nrtp_ports 16000-16100\nmodule_path /usr/lib/baresip/modules\n" +
		"module g711.so\nmodule aubridge.so\nmodule_app account.so\nmodule_app menu.so\n"
	accounts := fmt.Sprintf("<sip:alice@%s;transport=udp>;auth_pass=wonderland;regint=60\n", e.topo.AccessSIP())
	for name, data := range map[string]string{"config": config, "accounts": accounts} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uas := e.callee("uas-baresip", "uas_basic.xml", 0, func(o *SippOpts) { o.Timeout = 15 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Let the registration finish before dialling; quit after 4 s.
	cmd := exec.CommandContext(ctx, bin, "-f", dir, "-t", "4", "-e", "/dial sip:5000@"+e.topo.AccessSIP())
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("baresip: %v", err)
	}
	callee := uas.Wait(t)
	if callee.ExitCode != 0 {
		t.Fatalf("callee did not complete a call from baresip:\n%s\nbaresip output:\n%s", callee.Report(), out)
	}
	inv := callee.Requests(false, "INVITE")
	if len(inv) != 1 || len(callee.Requests(false, "BYE")) != 1 {
		t.Fatalf("callee saw %d INVITEs and %d BYEs, want one each", len(inv), len(callee.Requests(false, "BYE")))
	}
	// baresip answered sbcd's 401 (registration 200) and 407 (call established).
	if o := string(out); !strings.Contains(o, "alice@"+e.topo.AccessIP()+": {0/UDP/v4} 200 OK") || !strings.Contains(o, "Call established") {
		t.Fatalf("baresip did not register and call:\n%s", out)
	}
}

// TestAuthDigestNonces: a Go phone (icholy/digest) registers with SHA-256;
// a replayed Authorization is refused, an expired nonce gets stale=true,
// MD5 works as second choice, and REGISTER for another user's address of
// record is refused.
func TestAuthDigestNonces(t *testing.T) {
	t.Parallel()
	const net = 36
	e := newEnv(t, net, withAuth(nil, 2*time.Second, account("bob", "builder"), account("eve", "x")))
	ph := newPhone(t, "bob", fmt.Sprintf("%s:%d", e.topo.CallerIP(0), CallerPort), e.topo.AccessSIP())
	host := ph.domainHost()

	res := ph.register(60, "")
	if res.StatusCode != 401 {
		t.Fatalf("unauthenticated REGISTER: %d, want 401", res.StatusCode)
	}
	chals := res.GetHeaders("WWW-Authenticate")
	if len(chals) != 2 || !strings.Contains(chals[0].Value(), "SHA-256") || !strings.Contains(chals[1].Value(), "MD5") {
		t.Fatalf("challenges %v, want SHA-256 then MD5", chals)
	}
	answer := func(h sip.Header, pass string, nc int) string {
		t.Helper()
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatal(err)
		}
		cr, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:" + host, Username: "bob", Password: pass, Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cr.String() + "\n"
	}
	sha := answer(chals[0], "builder", 1)
	if !strings.Contains(sha, "algorithm=SHA-256") {
		t.Fatalf("client did not answer with SHA-256: %s", sha)
	}
	steps := []struct {
		name, extra string
		want        int
		stale       bool
	}{
		{"sha256", sha, 200, false},
		{"replayed", sha, 401, false},
		{"next nc", answer(chals[0], "builder", 2), 200, false},
		{"md5", answer(chals[1], "builder", 3), 200, false},
		{"wrong password", answer(chals[1], "nope", 4), 401, false},
	}
	for _, s := range steps {
		res := ph.register(60, s.extra)
		if res.StatusCode != s.want {
			t.Fatalf("%s: %d, want %d", s.name, res.StatusCode, s.want)
		}
	}
	// The nonce expires (nonce_ttl 2s): a correct answer is stale.
	time.Sleep(2100 * time.Millisecond)
	res = ph.register(60, answer(chals[0], "builder", 5))
	if res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("expired nonce: %d %v, want 401 with stale=true", res.StatusCode, res.GetHeader("WWW-Authenticate"))
	}
	// Eve authenticates fine but may not register bob's address of record.
	ch, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cr, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:" + host, Username: "eve", Password: "x", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res := ph.register(60, "Authorization: "+cr.String()+"\n"); res.StatusCode != 403 {
		t.Fatalf("eve registering bob: %d, want 403", res.StatusCode)
	}
}
