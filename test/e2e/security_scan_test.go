package e2e

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// scanEnv is an sbcd whose access realm is a registrar with digest
// authentication (user 1000) and an admin API to read the blacklist.
func scanEnv(t *testing.T, net int, mutate func(*policy.Config)) (*env, func(args ...string) (int, string, string)) {
	t.Helper()
	RequireTool(t, "svmap")
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	sum := md5.Sum([]byte("1000:access:Tr0ub4dor&3"))
	e := newEnv(t, net, func(c *policy.Config) {
		c.Realms[0].Registrar = true
		c.Realms[0].Auth = &policy.AuthConfig{Realm: "access", Algorithms: []string{"MD5"},
			Users: []policy.AccountConfig{{Name: "1000", HA1MD5: hex.EncodeToString(sum[:])}}}
		c.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{
			{Name: "noc", Role: "operator", SHA256: tokenHash("op-token")}}}
		if mutate != nil {
			mutate(c)
		}
	})
	return e, func(args ...string) (int, string, string) {
		return sbcctl(t, "op-token", append([]string{"-admin", admin}, args...)...)
	}
}

// svwarFound matches extension 1000 in svwar's table of what it found
// ("| 1000 | reqauth |"), not the digits inside a response it quotes
// (a branch or a Call-ID may hold them).
var svwarFound = regexp.MustCompile(`(?m)^\|\s*1000\s*\|`)

// runTool runs a sipvicious tool bounded by timeout and returns its output.
func runTool(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, RequireTool(t, name), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	start := time.Now()
	out, _ := cmd.CombinedOutput()
	t.Logf("%s %s (%s):\n%s", name, strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond), out)
	return string(out)
}

// blacklisted returns the blacklist as sbcctl prints it.
func blacklisted(t *testing.T, ctl func(...string) (int, string, string)) string {
	t.Helper()
	code, out, errOut := ctl("blacklist", "list")
	if code != 0 {
		t.Fatalf("sbcctl blacklist list: exit %d %s", code, errOut)
	}
	return out
}

// waitListed waits until ip is on the blacklist with reason.
func waitListed(t *testing.T, ctl func(...string) (int, string, string), ip, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := blacklisted(t, ctl)
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == ip && f[2] == reason {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not blacklisted for %s:\n%s", ip, reason, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sipvicious 0.3.3's svwar and svcrack ignore -b: they bind the wildcard
// address, so on loopback their requests come from 127.0.0.1. Each test
// gives them a local port of its own (-P).

func TestSecuritySipviciousByUserAgent(t *testing.T) {
	t.Parallel()
	const net = 31
	e, ctl := scanEnv(t, net, nil)
	scanner := e.topo.CallerIP(1)
	target := e.topo.AccessIP()

	// svmap (OPTIONS, User-Agent friendly-scanner) is blocked at its first
	// request and finds nothing.
	out := runTool(t, 20*time.Second, "svmap", "-b", scanner, "-p", "5060", "-t", "0.2", target)
	if strings.Contains(out, target+":5060") || !strings.Contains(out, "found nothing") {
		t.Errorf("svmap found sbcd:\n%s", out)
	}
	waitListed(t, ctl, scanner, "user_agent")

	// svwar is blocked at its first request too and enumerates nothing.
	out = runTool(t, 20*time.Second, "svwar", "-P", "15310", "-p", "5060", "-e", "990-1010", "-t", "0.05", "--maximumtime=2", target)
	if svwarFound.MatchString(out) || !strings.Contains(out, "found nothing") {
		t.Errorf("svwar enumerated extensions:\n%s", out)
	}
	waitListed(t, ctl, "127.0.0.1", "user_agent")

	// The operator lifts a block; a manual block drops a legitimate caller.
	if code, out, errOut := ctl("blacklist", "remove", scanner); code != 0 {
		t.Fatalf("blacklist remove: exit %d %s %s", code, out, errOut)
	}
	if strings.Contains(blacklisted(t, ctl), scanner+" ") {
		t.Fatal("source still listed after removal")
	}
	if code, _, errOut := ctl("blacklist", "add", e.topo.CallerIP(0), "10m"); code != 0 {
		t.Fatalf("blacklist add: exit %d %s", code, errOut)
	}
	waitListed(t, ctl, e.topo.CallerIP(0), "manual")
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Timeout = 3 * time.Second; o.Calls = 1 })
	if r := caller.Wait(t); r.ExitCode == 0 {
		t.Fatal("a call from a blocked source succeeded")
	}
}

func TestSecuritySipviciousByBehaviour(t *testing.T) {
	t.Parallel()
	const net = 32
	// The scanners' User-Agent is not recognised here: they must be caught
	// by what they do.
	e, ctl := scanEnv(t, net, func(c *policy.Config) {
		c.Security.Scanner.UserAgents = []string{"no-such-agent"}
		c.Security.Scanner.DistinctUsers = 20
		c.Security.Blacklist.AuthFailures = 5
	})
	target := e.topo.AccessIP()

	// svwar: existing and unknown users get the same challenge, so it
	// cannot tell them apart and reports nothing.
	out := runTool(t, 30*time.Second, "svwar", "-P", "15320", "-p", "5060", "-e", "990-1010", "-t", "0.02", "--force", "--maximumtime=2", target)
	if svwarFound.MatchString(out) || !strings.Contains(out, "found nothing") {
		t.Errorf("svwar enumerated extensions:\n%s", out)
	}

	// svcrack guesses passwords for 1000: blocked after 5 failures. The
	// right password is its 8th guess, so without the block it would find
	// it within a few requests.
	dict := filepath.Join(t.TempDir(), "words")
	var words []string
	for i := range 7 {
		words = append(words, fmt.Sprintf("guess%02d", i))
	}
	words = append(words, "Tr0ub4dor&3")
	for i := range 30 {
		words = append(words, fmt.Sprintf("later%02d", i))
	}
	if err := os.WriteFile(dict, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = runTool(t, 30*time.Second, "svcrack", "-P", "15321", "-p", "5060", "-u", "1000", "-d", dict, "-t", "0.02", "--maximumtime=2", target)
	if strings.Contains(out, "Tr0ub4dor") {
		t.Errorf("svcrack found the password:\n%s", out)
	}
	waitListed(t, ctl, "127.0.0.1", "auth_failures")
	// sbcd judged exactly 5 answers from it, all wrong: nothing after the
	// block reached authentication.
	failed := e.sbcd.Find(func(l LogLine) bool {
		return l.Msg() == "authentication failed" && l.Str("source") != "" && strings.HasPrefix(l.Str("source"), "127.0.0.1:")
	})
	if len(failed) != 5 {
		t.Errorf("%d failed authentications from svcrack reached sbcd, want 5 (blocked at the 5th)", len(failed))
	}

	// A walk over many users from one source, whatever it calls itself, is
	// blocked after 20 distinct users: later requests get no answer.
	src := e.topo.CallerIP(1)
	answered := 0
	for i := range 40 {
		msg := fmt.Sprintf("OPTIONS sip:%d@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:1;branch=z9hG4bKw%d\r\nMax-Forwards: 70\r\n"+
			"To: <sip:%d@%s>\r\nFrom: <sip:probe@%s>;tag=w%d\r\nCall-ID: walk-%d\r\nCSeq: 1 OPTIONS\r\n"+
			"User-Agent: PolitePhone/2.0\r\nContent-Length: 0\r\n\r\n", 2000+i, target, src, i, 2000+i, target, src, i, i)
		got, err := sendTorture("udp", src, e.topo.AccessSIP(), []byte(msg), tortureCase{flags: "randomize=no"}, "", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			answered++
		}
	}
	if answered != 19 {
		t.Errorf("%d of 40 requests to distinct users were answered, want 19", answered)
	}
	waitListed(t, ctl, src, "distinct_users")
}
