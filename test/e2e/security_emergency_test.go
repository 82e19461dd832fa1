package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestSecurityEmergencyBypassesRateLimits: a caller over its source's
// call budget is refused (503), then blacklisted for the violations, so
// its ordinary calls are dropped; its calls to 911 and 112 are still
// routed and answered, and ended with an in-dialog BYE that the blacklist
// lets through, while ordinary calls from it stay dropped.
func TestSecurityEmergencyBypassesRateLimits(t *testing.T) {
	t.Parallel()
	const net = 90
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	e := newGoEnv(t, net, func(c *policy.Config) {
		c.Admin.Address = admin
		c.Realms[0].Emergency = []string{"911", "112"}
		c.Realms[0].Security.RateLimit = policy.RealmRateConfig{Action: "reject",
			Source: policy.RateLimitConfig{Calls: 1, Burst: 1}}
		c.Security.Blacklist.RateViolations = 3
	})
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	c, err := NewGoCaller(e.topo.CallerIP(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sdp := []byte(fmt.Sprintf("v=0\r\no=caller 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
		e.topo.CallerIP(0), CallerMediaPort))
	invite := func(user string, wait time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		res, err := c.Invite(ctx, user, e.topo.AccessSIP(), sdp)
		if err != nil {
			return 0, err
		}
		if res.Status() == 200 {
			if err := c.Hangup(ctx); err != nil {
				return 200, err
			}
		}
		return res.Status(), nil
	}

	// Ordinary calls in quick succession: past the first (a token a
	// second) they get 503, and the third refusal blacklists the source.
	refused, dropped := 0, false
	for i := range 30 {
		code, err := invite(fmt.Sprintf("50%02d", i), 1500*time.Millisecond)
		if err != nil {
			dropped = true
			break
		}
		if code == 503 {
			refused++
		} else if code != 200 {
			t.Fatalf("ordinary call %d: %d", i, code)
		}
	}
	if refused < 3 || !dropped {
		t.Fatalf("%d calls refused, dropped=%v: want >= 3 refusals, then drops", refused, dropped)
	}
	if _, err := e.sbcd.WaitFor(func(l LogLine) bool {
		return l.Msg() == "source blacklisted" && l.Str("source") == e.topo.CallerIP(0) && l.Str("reason") == "rate_exceeded"
	}, 2*time.Second); err != nil {
		t.Fatalf("source not blacklisted for exceeding its rate: %v", err)
	}

	// Emergency calls pass the rate block, are routed, answered and hung up.
	before := len(gw.calledUsers())
	for _, n := range []string{"911", "112"} {
		code, err := invite(n, 5*time.Second)
		if err != nil || code != 200 {
			t.Fatalf("emergency call to %s from a rate-blocked source: %d %v", n, code, err)
		}
	}
	if got := gw.calledUsers()[before:]; fmt.Sprint(got) != "[911 112]" {
		t.Fatalf("gateway got %v, want the two emergency calls", got)
	}
	// Ordinary calls are still dropped, and nothing reached the gateway.
	if code, err := invite("5099", 1500*time.Millisecond); err == nil {
		t.Fatalf("ordinary call after the emergency calls answered %d", code)
	}
	if n := len(gw.calledUsers()); n != before+2 {
		t.Fatalf("gateway got %d calls, want %d", n, before+2)
	}
	m := scrape(t, admin)
	if m["openborder_security_emergency_passed_total"] < 4 {
		t.Errorf("emergency_passed_total = %v, want >= 4 (2 INVITEs, their ACKs and BYEs)", m["openborder_security_emergency_passed_total"])
	}
	if m[`openborder_blacklist_added_total{reason="rate_exceeded"}`] != 1 {
		t.Errorf("blacklist_added_total{rate_exceeded} = %v", m[`openborder_blacklist_added_total{reason="rate_exceeded"}`])
	}
}
