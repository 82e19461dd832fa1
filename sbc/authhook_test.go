package sbc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/sbc/auth"
)

const authYAML = `    emergency: ["911"]
    auth:
      realm: unit.test
      algorithms: [SHA-256]
      account_limits: {max_calls: 1}
      users:
        - {name: alice, ha1_sha256: %s}
`

// authorize answers a 407 challenge for an INVITE to user as alice.
func authorize(t *testing.T, tb *testBed, res *sip.Response, user, password string) string {
	t.Helper()
	h := res.GetHeader("Proxy-Authenticate")
	if h == nil {
		t.Fatal("407 without Proxy-Authenticate")
	}
	ch, err := auth.ParseCredentials(h.Value() + `, username="x", uri="x", response="x"`)
	if err != nil {
		t.Fatal(err)
	}
	uri := "sip:" + user + "@" + tb.sbcA
	ha1 := auth.HA1(auth.SHA256, "alice", "unit.test", password)
	resp := auth.Response(auth.SHA256, ha1, "INVITE", uri, ch.Nonce, "00000001", "c0ffee", "auth")
	return fmt.Sprintf("Proxy-Authorization: Digest username=\"alice\", realm=\"unit.test\", nonce=%q, uri=%q, response=%q, algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c0ffee\"\n",
		ch.Nonce, uri, resp)
}

func TestAuthHookInvite(t *testing.T) {
	tb := newTestBedWith(t, fmt.Sprintf(authYAML, auth.HA1(auth.SHA256, "alice", "unit.test", "pw")))

	// No credentials (or only another scheme's): 407, nothing reaches the callee.
	tb.caller.send(tb.sbcA, tb.invite("c0", "1000", "Proxy-Authorization: Basic YWxpY2U6cHc=\n"))
	tb.caller.expectResponse(407, wait)
	// Unreadable Digest credentials: 400.
	tb.caller.send(tb.sbcA, tb.invite("c00", "1000", "Proxy-Authorization: Digest username=\"alice\n"))
	tb.caller.expectResponse(400, wait)
	tb.caller.send(tb.sbcA, tb.invite("c1", "1000", ""))
	res := tb.caller.expectResponse(407, wait)
	if v := res.GetHeader("Proxy-Authenticate").Value(); !strings.Contains(v, `realm="unit.test"`) || !strings.Contains(v, "algorithm=SHA-256") {
		t.Fatalf("challenge %q", v)
	}
	// Wrong password: challenged again.
	tb.caller.send(tb.sbcA, tb.invite("c2", "1000", authorize(t, tb, res, "1000", "guess")))
	res = tb.caller.expectResponse(407, wait)

	// Right password: the call goes through and carries the account.
	tb.caller.send(tb.sbcA, tb.invite("c3", "1000", authorize(t, tb, res, "1000", "pw")))
	inv := tb.callee.expectRequest("INVITE", wait)
	if inv.GetHeader("Proxy-Authorization") != nil {
		t.Fatal("credentials crossed to the callee")
	}
	tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "bobtag", "sip:bob@"+tb.callee.addr(), "", ""))
	tb.caller.expectResponse(180, wait)

	// alice's one call is in progress: her second gets 503 + Retry-After.
	tb.caller.send(tb.sbcA, tb.invite("c4", "1001", ""))
	res = tb.caller.expectResponse(407, wait)
	tb.caller.send(tb.sbcA, tb.invite("c5", "1001", authorize(t, tb, res, "1001", "pw")))
	busy := tb.caller.expectResponse(503, wait)
	if ra := busy.GetHeader("Retry-After"); ra == nil || ra.Value() == "0" {
		t.Fatal("503 without Retry-After")
	}
	if r := busy.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), "account:access:alice") {
		t.Fatalf("Reason %v", r)
	}

	// Emergency calls are not challenged and not limited.
	tb.caller.send(tb.sbcA, tb.invite("c6", "911", ""))
	if e := tb.callee.expectRequest("INVITE", wait); !strings.HasPrefix(e.Recipient.User, "911") {
		t.Fatalf("emergency INVITE to %s", e.Recipient.User)
	}

	// The first call ends: its record names the account.
	tb.callee.send(tb.sbcB, reply(inv, 486, "Busy Here", "bobtag", "", "", ""))
	tb.caller.expectResponse(486, wait)
	deadline := time.Now().Add(wait)
	for {
		_, _, recs := tb.obs.snapshot()
		found := false
		for _, r := range recs {
			if r.ACallID == "c3" {
				if r.Account != "alice" {
					t.Fatalf("record account %q", r.Account)
				}
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no record of the authenticated call")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, rejected, _ := tb.obs.snapshot()
	joined := strings.Join(rejected, " ")
	for _, want := range []string{"auth_challenge", "auth_failed", "cac_calls"} {
		if !strings.Contains(joined, want) {
			t.Errorf("rejections %q lack %s", joined, want)
		}
	}
}

// register sends a REGISTER of alice's address of record with contact
// and extra header lines, and returns the response.
func register(t *testing.T, tb *testBed, cseq int, contact, extra string) *sip.Response {
	t.Helper()
	tb.caller.send(tb.sbcA, fmt.Sprintf(`
REGISTER sip:%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-reg-%d;rport
Max-Forwards: 70
From: <sip:alice@%s>;tag=reg
To: <sip:alice@%s>
Call-ID: reg-alice
CSeq: %d REGISTER
Contact: <%s>
Expires: 300
%sContent-Length: 0

`, tb.sbcA, tb.caller.addr(), cseq, tb.sbcA, tb.sbcA, cseq, contact, extra))
	m := tb.caller.recv(wait)
	res, ok := m.(*sip.Response)
	if !ok {
		t.Fatalf("got %s, want a response", short(m))
	}
	return res
}

func TestAuthHookRegistrationLimit(t *testing.T) {
	yaml := fmt.Sprintf(`    auth:
      realm: unit.test
      algorithms: [MD5]
      users:
        - {name: alice, ha1_md5: %s, max_registrations: 2}
`, auth.HA1(auth.MD5, "alice", "unit.test", "pw"))
	tb := newTestBedWith(t, yaml)
	cseq := 0
	regWith := func(contact string) *sip.Response {
		cseq++
		res := register(t, tb, cseq, contact, "")
		if res.StatusCode != 401 {
			t.Fatalf("unauthenticated REGISTER: %d", res.StatusCode)
		}
		ch, err := auth.ParseCredentials(res.GetHeader("WWW-Authenticate").Value() + `, username="x", uri="x", response="x"`)
		if err != nil {
			t.Fatal(err)
		}
		uri := "sip:" + tb.sbcA
		resp := auth.Response(auth.MD5, auth.HA1(auth.MD5, "alice", "unit.test", "pw"), "REGISTER", uri, ch.Nonce, "00000001", "c", "auth")
		cseq++
		return register(t, tb, cseq, contact, fmt.Sprintf("Authorization: Digest username=\"alice\", realm=\"unit.test\", nonce=%q, uri=%q, response=%q, qop=auth, nc=00000001, cnonce=\"c\"\n", ch.Nonce, uri, resp))
	}
	for i, c := range []string{"sip:alice@192.0.2.1", "sip:alice@192.0.2.2", "sip:alice@192.0.2.1"} {
		if res := regWith(c); res.StatusCode != 200 {
			t.Fatalf("registration %d (%s): %d", i, c, res.StatusCode)
		}
	}
	// A third distinct contact is over the account's limit of two.
	res := regWith("sip:alice@192.0.2.3")
	if res.StatusCode != 403 || res.GetHeader("Reason") == nil {
		t.Fatalf("third contact: %d %v, want 403 with a Reason", res.StatusCode, res.GetHeader("Reason"))
	}
	if n := tb.b.Registrations(); n != 2 {
		t.Fatalf("%d registrations, want 2", n)
	}
}
