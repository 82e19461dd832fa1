package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// accountRequest is an out-of-dialog request of method from user (From)
// to the access realm, sent from ip.
func accountRequest(method, user, to, ip string, n int) []byte {
	return []byte(fmt.Sprintf("%s sip:%s@sbc SIP/2.0\r\nVia: SIP/2.0/UDP %s:1;branch=z9hG4bKacc%s%d\r\nMax-Forwards: 70\r\n"+
		"To: <sip:%s@sbc>\r\nFrom: <sip:%s@sbc>;tag=t%d\r\nCall-ID: acc-%s-%s-%d\r\nCSeq: 1 %s\r\n"+
		"Contact: <sip:%s@%s:1>\r\nUser-Agent: DeskPhone/1.0\r\nContent-Length: 0\r\n\r\n",
		method, to, ip, user, n, to, user, n, method, user, n, method, user, ip))
}

// TestAdmissionAccountBuckets: the access realm's per-account token
// buckets (From user, across source addresses) bound new calls,
// REGISTERs and requests of each account on its own: alice's second
// INVITE and second REGISTER within a second get 503 with Retry-After
// whichever address they come from, while bob's pass.
func TestAdmissionAccountBuckets(t *testing.T) {
	t.Parallel()
	const netN = 92
	e := newGoEnv(t, netN, func(c *policy.Config) {
		c.Realms[0].Registrar = true
		c.Realms[0].Security.RateLimit = policy.RealmRateConfig{Action: "reject",
			Account: policy.RateLimitConfig{Requests: 4, Calls: 1, Registers: 1, Burst: 1}}
	})
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	gw.inviteCode.Store(486)
	ip0, ip1 := e.topo.CallerIP(0), e.topo.CallerIP(1)
	send := func(ip string, msg []byte) int {
		t.Helper()
		got, err := sendTorture("udp", ip, e.topo.AccessSIP(), msg, tortureCase{flags: "randomize=no"}, "", 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s >= 200 {
				return s
			}
		}
		t.Fatalf("no final response to\n%s", msg)
		return 0
	}
	steps := []struct {
		name, method, user, ip string
		want                   int
	}{
		{"alice calls", "INVITE", "alice", ip0, 486},
		{"alice calls again from another address", "INVITE", "alice", ip1, 503},
		{"bob calls", "INVITE", "bob", ip1, 486},
		{"alice registers", "REGISTER", "alice", ip1, 200},
		{"alice registers again", "REGISTER", "alice", ip0, 503},
		{"bob registers", "REGISTER", "bob", ip0, 200},
	}
	for i, s := range steps {
		to := "5000"
		if s.method == "REGISTER" {
			to = s.user
		}
		if got := send(s.ip, accountRequest(s.method, s.user, to, s.ip, i)); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
	}
	// carol's requests of any method: 4 a second.
	answered := 0
	for i := range 6 {
		if send(ip0, accountRequest("OPTIONS", "carol", "sbc", ip0, 100+i)) != 503 {
			answered++
		}
	}
	if answered != 4 {
		t.Fatalf("carol: %d of 6 OPTIONS answered, want 4", answered)
	}
	if u := strings.Join(gw.calledUsers(), ","); u != "5000,5000" {
		t.Fatalf("gateway got calls %q, want alice's first and bob's", u)
	}
}

// TestAdmissionAccountCallLimit: an authenticated account with
// max_calls 1 (sipp answering the digest challenges) has one call up; its
// second call, from another address, is refused 503 with Retry-After and
// a Reason naming the account.
func TestAdmissionAccountCallLimit(t *testing.T) {
	t.Parallel()
	const netN = 93
	e := newEnv(t, netN, func(c *policy.Config) {
		withAuth([]string{"MD5"}, 0, account("alice", "wonderland"))(c)
		c.Realms[0].Auth.AccountLimits.MaxCalls = 1
	})
	auth := func(o *SippOpts) { o.Service = "5000"; o.Extra = append(o.Extra, "-au", "alice", "-ap", "wonderland") }
	uas := e.callee("uas", "uas_basic.xml", 0, func(o *SippOpts) { o.Calls = 2 })
	first := e.caller("first", "uac_auth.xml", 0, func(o *SippOpts) { auth(o); o.Duration = 3 * time.Second })
	time.Sleep(time.Second) // the first call is up and holds the account's only slot
	second := e.caller("second", "uac_auth.xml", 1, func(o *SippOpts) { auth(o); o.Timeout = 4 * time.Second }).Wait(t)
	r := second.Responses(false, 503, "INVITE")
	if len(r) == 0 {
		t.Fatalf("second call of the account: no 503\n%s", second.Report())
	}
	if ra := r[0].Header("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("503 without Retry-After:\n%s", r[0].Raw)
	}
	if rs := r[0].Header("Reason"); !strings.Contains(rs, "account:access:alice") {
		t.Errorf("503 Reason %q does not name the account", rs)
	}
	wantExit0(t, first.Wait(t))
	if n := len(uas.Stop(t).Requests(false, "INVITE")); n != 1 {
		t.Errorf("callee got %d INVITEs, want the first call's only", n)
	}
}
