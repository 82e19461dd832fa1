package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestSecurityEnumerationBy404s: a source with an ordinary User-Agent
// calls one number after another and the core answers 404 for each: after
// scanner.unknown_users distinct unknown users it is blacklisted and its
// requests go unanswered, while another caller still gets through.
func TestSecurityEnumerationBy404s(t *testing.T) {
	t.Parallel()
	const netN = 94
	e := newGoEnv(t, netN, func(c *policy.Config) {
		c.Security.Scanner.UnknownUsers = 5
	})
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gw.inviteCode.Store(404)
	prober := e.topo.CallerIP(1)
	got404 := 0
	for i := range 10 {
		msg := accountRequest("INVITE", "desk", fmt.Sprint(3000+i), prober, i)
		st, err := sendTorture("udp", prober, e.topo.AccessSIP(), msg, tortureCase{flags: "randomize=no"}, "", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 0 {
			break
		}
		if st[len(st)-1] != 404 {
			t.Fatalf("probe %d: %v, want 404", i, st)
		}
		got404++
	}
	if got404 != 5 {
		t.Fatalf("%d probes answered 404 before the source was dropped, want 5", got404)
	}
	if _, err := e.sbcd.WaitFor(func(l LogLine) bool {
		return l.Msg() == "source blacklisted" && l.Str("source") == prober && l.Str("reason") == "unknown_users"
	}, 2*time.Second); err != nil {
		t.Fatalf("prober not blacklisted for unknown users: %v", err)
	}
	if st, _ := sendTorture("udp", prober, e.topo.AccessSIP(), accountRequest("OPTIONS", "desk", "sbc", prober, 99), tortureCase{flags: "randomize=no"}, "", 700*time.Millisecond); len(st) != 0 {
		t.Fatalf("blacklisted prober answered %v", st)
	}
	// Another caller is unaffected.
	other := e.topo.CallerIP(0)
	if st, _ := sendTorture("udp", other, e.topo.AccessSIP(), accountRequest("OPTIONS", "desk2", "sbc", other, 1), tortureCase{flags: "randomize=no"}, "", 3*time.Second); len(st) == 0 || st[len(st)-1] != 200 {
		t.Fatalf("other caller's OPTIONS: %v, want 200", st)
	}
}
