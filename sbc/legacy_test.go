package sbc

import (
	"fmt"
	"strings"
	"testing"
)

// An RFC 2543-style INVITE without Contact is accepted: the caller's leg
// targets its From URI and sends to the address the INVITE came from, so
// the callee's BYE reaches the caller.
func TestInviteWithoutContactIsAccepted(t *testing.T) {
	tb := newTestBed(t)
	callID := "nocontact-1@127.0.3.10"
	inv := strings.Replace(tb.invite(callID, "1000", ""), "Contact: <sip:alice@"+tb.caller.addr()+">\n", "", 1)
	inv = strings.Replace(inv, `From: "Alice" <sip:alice@`+tb.caller.addr()+`>`, `From: "Alice" <sip:alice@legacy.client.example.net>`, 1)
	if strings.Contains(inv, "Contact:") {
		t.Fatal("test INVITE still has a Contact")
	}
	tb.caller.send(tb.sbcA, inv)
	out := tb.callee.expectRequest("INVITE", wait)
	tb.callee.send(tb.sbcB, reply(out, 200, "OK", "bobtag", "sip:bob@"+tb.callee.addr(), "", calleeSDP))
	ok := tb.caller.expectResponse(200, wait)
	if ok.Contact() == nil {
		t.Fatal("200 to the caller has no Contact")
	}
	tag, _ := ok.To().Params.Get("tag")
	tb.caller.send(tb.sbcA, fmt.Sprintf(`
ACK sip:sbc@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-ack-%s;rport
Max-Forwards: 70
From: <sip:alice@legacy.client.example.net>;tag=caller-%s
To: <sip:1000@%s>;tag=%s
Call-ID: %s
CSeq: 1 ACK
Content-Length: 0

`, tb.sbcA, tb.caller.addr(), callID, callID, tb.sbcA, tag, callID))
	tb.callee.expectRequest("ACK", wait)

	// The callee hangs up: the caller's BYE goes to where its INVITE came
	// from, addressed to its From URI.
	tb.callee.send(tb.sbcB, fmt.Sprintf(`
BYE sip:sbc@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-bye-nocontact;rport
Max-Forwards: 70
From: %s;tag=bobtag
To: %s
Call-ID: %s
CSeq: 2 BYE
Content-Length: 0

`, tb.sbcB, tb.callee.addr(), out.To().Value(), out.From().Value(), out.CallID().Value()))
	bye := tb.caller.expectRequest("BYE", wait)
	if got := bye.Recipient.Host; got != "legacy.client.example.net" {
		t.Fatalf("BYE Request-URI host %q, want the From URI's", got)
	}
	tb.callee.expectResponse(200, wait)
	tb.caller.send(tb.sbcA, reply(bye, 200, "OK", "", "", "", ""))
	waitFor(t, func() bool { return tb.b.ActiveCalls() == 0 })
}
