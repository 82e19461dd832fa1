package guard

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// call returns msg(sdp) as an INVITE to user with Call-ID id.
func call(user, id string) []byte {
	s := strings.Replace(string(msg(sdp)), "INVITE sip:bob@example.com", "INVITE sip:"+user+"@example.com", 1)
	return []byte(strings.Replace(s, "a84b4c76e66710@pc33.example.com", id, 1))
}

// inDialogOf turns an INVITE into an in-dialog BYE of the same call.
func inDialogOf(inv []byte) []byte {
	s := strings.Replace(string(inv), "INVITE sip", "BYE sip", 1)
	s = strings.Replace(s, "314159 INVITE", "314160 BYE", 1)
	return []byte(strings.Replace(s, "To: Bob <sip:bob@example.com>", "To: Bob <sip:bob@example.com>;tag=x", 1))
}

// emergencyRoute routes every call of the test realm to a trunk, as a
// policy with emergency numbers must.
const emergencyRoute = `trunks:
  - name: psap
    realm: access
    gateways: [{address: "127.0.0.1:5090"}]
routes:
  - name: all
    trunks: [psap]
`

func TestEmergencyBypassesRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name, limits, reason string
	}{
		{"source", "source: {calls: 1, in_dialog: 1, burst: 1}", ReasonSource},
		{"realm", "realm: {calls: 1, in_dialog: 1, burst: 1}", ReasonRealm},
		{"account", "account: {calls: 1, burst: 1}", ReasonAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := testPolicy(t, "    emergency: [\"911\", \"112\"]\n    security:\n      rate_limit:\n        "+tc.limits+"\n        action: reject\n"+emergencyRoute)
			c := &clock{t: time.Unix(1000, 0)}
			g := New(set, Options{Now: c.now, Logger: quiet})
			var m Msg
			if v := g.Inspect("access", src, false, call("5000", "c0"), &m); v.Stage != "" {
				t.Fatalf("first call refused: %+v", v)
			}
			for i := range 3 {
				if v := g.Inspect("access", src, false, call("5000", fmt.Sprint("c", i+1)), &m); v.Stage != StageRateLimit || v.Reason != tc.reason || v.Code != 503 {
					t.Fatalf("ordinary call %d over the limit: %+v", i, v)
				}
			}
			for _, n := range []string{"911", "112", "911"} {
				inv := call(n, "em-"+n)
				if v := g.Inspect("access", src, false, inv, &m); v.Stage != "" {
					t.Fatalf("emergency call to %s refused: %+v", n, v)
				}
				// Its dialog passes even when the in-dialog budget is spent.
				for range 3 {
					if v := g.Inspect("access", src, false, inDialogOf(inv), &m); v.Stage != "" {
						t.Fatalf("in-dialog request of the emergency call refused: %+v", v)
					}
				}
			}
			if v := g.Inspect("access", src, false, call("5000", "c9"), &m); v.Stage != StageRateLimit {
				t.Fatalf("ordinary call after the emergency calls passed: %+v", v)
			}
		})
	}
}

func TestEmergencyPassesRateBlacklist(t *testing.T) {
	set := testPolicy(t, "    emergency: [\"112\"]\n    security: {rate_limit: {source: {calls: 1, burst: 1}}}\nsecurity:\n  blacklist: {rate_violations: 3, duration: 100h}\n"+emergencyRoute)
	c := &clock{t: time.Unix(1000, 0)}
	g := New(set, Options{Now: c.now, Logger: quiet})
	var m Msg
	for i := range 4 {
		g.Inspect("access", src, false, call("5000", fmt.Sprint("f", i)), &m)
	}
	if l := g.Blacklist(); len(l) != 1 || l[0].Reason != ReasonRateExceeded {
		t.Fatalf("flooding source not blacklisted: %+v", l)
	}
	if v := g.Inspect("access", src, false, call("5000", "f9"), &m); v.Stage != StageBlacklist {
		t.Fatalf("ordinary call of a blacklisted source: %+v", v)
	}
	inv := call("112", "em-1")
	if v := g.Inspect("access", src, false, inv, &m); v.Stage != "" {
		t.Fatalf("emergency call of a rate-blacklisted source refused: %+v", v)
	}
	if v := g.Inspect("access", src, false, inDialogOf(inv), &m); v.Stage != "" {
		t.Fatalf("BYE of the emergency call refused: %+v", v)
	}
	resp := []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKx\r\nTo: <sip:112@example.com>;tag=a\r\n" +
		"From: <sip:sbc@example.com>;tag=b\r\nCall-ID: em-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
	if v := g.Inspect("access", src, false, resp, &m); v.Stage != "" {
		t.Fatalf("response in the emergency call refused: %+v", v)
	}
	if v := g.Inspect("access", src, false, inDialogOf(call("5000", "f1")), &m); v.Stage != StageBlacklist {
		t.Fatalf("in-dialog request of another call passed the blacklist: %+v", v)
	}
	// Another source may not ride on the emergency call's Call-ID.
	other := netip.MustParseAddrPort("192.0.2.77:5060")
	if _, err := g.Block(other.Addr(), time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{inv, inDialogOf(inv)} {
		if v := g.Inspect("access", other, false, b, &m); v.Stage != StageBlacklist {
			t.Fatalf("manually blocked source passed with an emergency call: %+v", v)
		}
	}
	if g.EmergencyPassed() != 3 {
		t.Fatalf("EmergencyPassed = %d, want 3", g.EmergencyPassed())
	}
	// A remembered call is forgotten once it carried nothing for long.
	c.t = c.t.Add(emergencyIdle + time.Second)
	if v := g.Inspect("access", src, false, inDialogOf(inv), &m); v.Stage != StageBlacklist {
		t.Fatalf("idle emergency call still remembered: %+v", v)
	}
}
