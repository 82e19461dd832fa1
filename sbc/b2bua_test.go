package sbc

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

const wait = 3 * time.Second

// answered sets up a call and returns the callee's INVITE, the To tag the
// caller sees, and the callee's tag.
func (tb *testBed) answered(t *testing.T, callID string) (*sip.Request, string) {
	t.Helper()
	tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "bobtag", "sip:bob@"+tb.callee.addr(), "", ""))
	tb.callee.send(tb.sbcB, reply(inv, 200, "OK", "bobtag", "sip:bob@"+tb.callee.addr(), "", calleeSDP))
	tb.caller.expectResponse(180, wait)
	ok := tb.caller.expectResponse(200, wait)
	tag, _ := ok.To().Params.Get("tag")
	tb.caller.send(tb.sbcA, fmt.Sprintf(`
ACK sip:sbc@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-ack-%s;rport
Max-Forwards: 70
From: <sip:alice@%s>;tag=caller-%s
To: <sip:1000@%s>;tag=%s
Call-ID: %s
CSeq: 1 ACK
Content-Length: 0

`, tb.sbcA, tb.caller.addr(), callID, tb.caller.addr(), callID, tb.sbcA, tag, callID))
	tb.callee.expectRequest("ACK", wait)
	return inv, tag
}

func TestCallCrossesWithTopologyHidden(t *testing.T) {
	tb := newTestBed(t)
	callID := "hide-1@127.0.3.10"
	inv, tag := tb.answered(t, callID)

	if got := inv.CallID().Value(); got == callID {
		t.Errorf("B leg reused the caller's Call-ID")
	}
	if ft, _ := inv.From().Params.Get("tag"); ft == "caller-"+callID {
		t.Errorf("B leg reused the caller's From tag")
	}
	if n := len(inv.GetHeaders("Via")); n != 1 {
		t.Errorf("B leg has %d Via headers, want 1", n)
	}
	if mf := inv.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Errorf("Max-Forwards = %v, want 69", mf)
	}
	if inv.From().DisplayName != "Alice" || inv.From().Address.User != "alice" {
		t.Errorf("caller identity lost: %s", inv.From().Value())
	}
	for _, h := range []string{"Record-Route", "Route", "User-Agent"} {
		if inv.GetHeader(h) != nil {
			t.Errorf("B leg carries %s", h)
		}
	}
	if !bytes.Contains(inv.Body(), []byte("c=IN IP4 127.0.4.1")) {
		t.Errorf("B leg SDP is not the media plane's:\n%s", inv.Body())
	}
	// Hang up from the caller; both sides see the end.
	tb.caller.send(tb.sbcA, tb.inDialog("BYE", callID, tag, 2, ""))
	tb.caller.expectResponse(200, wait)
	bye := tb.callee.expectRequest("BYE", wait)
	tb.callee.send(tb.sbcB, reply(bye, 200, "OK", "", "", "", ""))

	leaks := map[string][][]byte{"callee": tb.callee.raw, "caller": tb.caller.raw}
	secrets := map[string][]string{
		"callee": {"127.0.3.10", tb.caller.addr(), tb.sbcA, callID, "caller-" + callID, "proxy.access.example", "AliceSoftphone", "z9hG4bK-" + callID},
		"caller": {"127.0.4.10", tb.callee.addr(), tb.sbcB, inv.CallID().Value(), "bobtag", "bob@"},
	}
	for who, msgs := range leaks {
		for _, m := range msgs {
			for _, s := range secrets[who] {
				if bytes.Contains(m, []byte(s)) {
					t.Errorf("%s received %q from the other realm:\n%s", who, s, m)
				}
			}
		}
	}
	waitFor(t, func() bool { return tb.b.ActiveCalls() == 0 })
}

// A 183 with SDP and a 200 sent back to back must reach the caller in that
// order, every time (sipgo alone may reorder or drop the 183).
func TestProvisionalBeforeFinalKeepsOrder(t *testing.T) {
	tb := newTestBed(t)
	for i := range 20 {
		callID := fmt.Sprintf("order-%d", i)
		tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
		inv := tb.callee.expectRequest("INVITE", wait)
		contact := "sip:bob@" + tb.callee.addr()
		burst := reply(inv, 183, "Session Progress", "c"+callID, contact, "", calleeSDP) +
			"\x00" + reply(inv, 200, "OK", "c"+callID, contact, "", calleeSDP)
		for _, m := range strings.Split(burst, "\x00") {
			tb.callee.send(tb.sbcB, m)
		}
		p := tb.caller.expectResponse(183, wait)
		if !bytes.Contains(p.Body(), []byte("127.0.3.1")) {
			t.Fatalf("183 lost its early-media SDP")
		}
		ok := tb.caller.expectResponse(200, wait)
		tag, _ := ok.To().Params.Get("tag")
		tb.caller.send(tb.sbcA, tb.inDialog("BYE", callID, tag, 2, ""))
		tb.caller.expectResponse(200, wait)
		drainUntil(tb.callee, "BYE")
	}
}

// drainUntil reads a peer's messages until a request of method arrives,
// answering it 200.
func drainUntil(p *peer, method string) {
	for {
		m := p.recv(wait)
		if m == nil {
			p.t.Fatalf("peer %s: no %s", p.ip, method)
		}
		if r, ok := m.(*sip.Request); ok && string(r.Method) == method {
			return
		}
	}
}

func TestFailureMappedToCaller(t *testing.T) {
	for _, code := range []int{486, 404, 603} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			tb := newTestBed(t)
			tb.caller.send(tb.sbcA, tb.invite(fmt.Sprintf("rej-%d", code), "1000", ""))
			inv := tb.callee.expectRequest("INVITE", wait)
			tb.callee.send(tb.sbcB, reply(inv, code, "Vendor Specific Words", "x", "", "Warning: 399 gw.core \"internal\"\n", ""))
			res := tb.caller.expectResponse(code, wait)
			if res.Reason == "Vendor Specific Words" || res.GetHeader("Warning") != nil {
				t.Errorf("far-realm reason or Warning crossed: %s", res.String())
			}
			tb.callee.expectRequest("ACK", wait)
			waitFor(t, func() bool { return tb.b.ActiveCalls() == 0 })
		})
	}
}

func TestCancelRacingAnswer(t *testing.T) {
	tb := newTestBed(t)
	callID := "race-1"
	tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	contact := "sip:bob@" + tb.callee.addr()
	tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "r1", contact, "", ""))
	tb.caller.expectResponse(180, wait)
	tb.caller.send(tb.sbcA, fmt.Sprintf(`
CANCEL sip:1000@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport
Max-Forwards: 70
From: "Alice" <sip:alice@%s>;tag=caller-%s
To: <sip:1000@%s>
Call-ID: %s
CSeq: 1 CANCEL
Content-Length: 0

`, tb.sbcA, tb.caller.addr(), callID, tb.caller.addr(), callID, tb.sbcA, callID))
	cancel := tb.callee.expectRequest("CANCEL", wait)
	// The callee answers the call anyway.
	tb.callee.send(tb.sbcB, reply(cancel, 200, "OK", "r1", "", "", ""))
	tb.callee.send(tb.sbcB, reply(inv, 200, "OK", "r1", contact, "", calleeSDP))
	got := map[int]bool{}
	for range 2 {
		got[tb.caller.expectResponseAny(wait)] = true
	}
	if !got[200] || !got[487] {
		t.Fatalf("caller got %v, want 200 (CANCEL) and 487", got)
	}
	tb.callee.expectRequest("ACK", wait)
	bye := tb.callee.expectRequest("BYE", wait)
	if tag, _ := bye.To().Params.Get("tag"); tag != "r1" {
		t.Errorf("BYE to tag %q", tag)
	}
	tb.callee.send(tb.sbcB, reply(bye, 200, "OK", "", "", "", ""))
	waitFor(t, func() bool { return tb.b.ActiveCalls() == 0 })
}

func (p *peer) expectResponseAny(timeout time.Duration) int {
	p.t.Helper()
	m := p.recv(timeout)
	r, ok := m.(*sip.Response)
	if !ok {
		p.t.Fatalf("peer %s: want a response, got %v", p.ip, short(m))
	}
	return r.StatusCode
}

func TestForkedAnswerIsEnded(t *testing.T) {
	tb := newTestBed(t)
	tb.caller.send(tb.sbcA, tb.invite("fork-1", "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	contact := "sip:bob@" + tb.callee.addr()
	tb.callee.send(tb.sbcB, reply(inv, 200, "OK", "first", contact, "", calleeSDP))
	tb.callee.send(tb.sbcB, reply(inv, 200, "OK", "second", contact, "", calleeSDP))
	tb.caller.expectResponse(200, wait)
	acks, byeTo := map[string]bool{}, ""
	for len(acks) < 2 || byeTo == "" {
		m := tb.callee.recv(wait)
		r, ok := m.(*sip.Request)
		if !ok {
			t.Fatalf("callee: got %v, acks %v bye %q", short(m), acks, byeTo)
		}
		tag, _ := r.To().Params.Get("tag")
		switch r.Method {
		case sip.ACK:
			acks[tag] = true
		case sip.BYE:
			byeTo = tag
			tb.callee.send(tb.sbcB, reply(r, 200, "OK", "", "", "", ""))
		}
	}
	if byeTo != "second" {
		t.Errorf("BYE went to %q, want the extra dialog", byeTo)
	}
	if extra := tb.caller.recv(300 * time.Millisecond); extra != nil {
		if r, ok := extra.(*sip.Response); ok && r.StatusCode == 200 {
			if tag, _ := r.To().Params.Get("tag"); tag != "" {
				// A retransmission of the one 200 is fine; a second dialog is not.
				first := tb.caller.raw[len(tb.caller.raw)-2]
				if !bytes.Contains(first, []byte(tag)) {
					t.Errorf("caller saw a second dialog")
				}
			}
		}
	}
}

func TestReinviteFromCalleeIsReanchored(t *testing.T) {
	tb := newTestBed(t)
	callID := "reinv-1"
	inv, _ := tb.answered(t, callID)
	calleeTag := "bobtag"
	hold := strings.Replace(calleeSDP, "t=0 0\n", "t=0 0\na=sendonly\n", 1)
	tb.callee.send(tb.sbcB, fmt.Sprintf(`
INVITE %s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-re-%s;rport
Max-Forwards: 70
From: <sip:bob@%s>;tag=%s
To: %s
Call-ID: %s
CSeq: 10 INVITE
Contact: <sip:bob@%s>
Content-Type: application/sdp
Content-Length: %d

%s`, inv.Contact().Address.String(), tb.callee.addr(), callID, tb.callee.addr(), calleeTag, inv.From().Value(), inv.CallID().Value(),
		tb.callee.addr(), len(strings.ReplaceAll(hold, "\n", "\r\n")), hold))
	re := tb.caller.expectRequest("INVITE", wait)
	if !bytes.Contains(re.Body(), []byte("127.0.3.1")) {
		t.Errorf("re-INVITE SDP not re-anchored:\n%s", re.Body())
	}
	if ft, _ := re.From().Params.Get("tag"); ft == calleeTag {
		t.Errorf("callee's tag crossed")
	}
	tb.caller.send(tb.sbcA, reply(re, 200, "OK", "", "sip:alice@"+tb.caller.addr(), "", callerSDP))
	tb.caller.expectRequest("ACK", wait)
	ok := tb.callee.expectResponse(200, wait)
	if !bytes.Contains(ok.Body(), []byte("127.0.4.1")) {
		t.Errorf("200 to re-INVITE not re-anchored:\n%s", ok.Body())
	}
	ops := strings.Join(tb.media.opsSeen(), ",")
	if !strings.Contains(ops, "offer-B") || !strings.HasSuffix(ops, "answer-A") {
		t.Errorf("media operations %s, want the re-offer from B answered by A", ops)
	}
}

// INFO requests arriving out of CSeq order are relayed in CSeq order.
func TestInDialogRequestsRelayedInCSeqOrder(t *testing.T) {
	tb := newTestBed(t)
	callID := "seq-1"
	_, tag := tb.answered(t, callID)
	info := func(cseq int) string {
		return strings.Replace(tb.inDialog("INFO", callID, tag, cseq, ""), "Content-Length: 0", "X-Seq: "+fmt.Sprint(cseq)+"\nContent-Length: 0", 1)
	}
	tb.caller.send(tb.sbcA, info(3))
	tb.caller.send(tb.sbcA, info(2))
	var order []uint32
	for range 2 {
		r := tb.callee.expectRequest("INFO", wait)
		order = append(order, r.CSeq().SeqNo)
		tb.callee.send(tb.sbcB, reply(r, 200, "OK", "", "", "", ""))
	}
	if order[0] >= order[1] {
		t.Errorf("B-leg CSeqs %v not increasing", order)
	}
	// Both INFOs are answered to the caller.
	for range 2 {
		tb.caller.expectResponse(200, wait)
	}
}

func TestEchoServiceAnswersLocally(t *testing.T) {
	tb := newTestBed(t)
	tb.caller.send(tb.sbcA, tb.invite("echo-1", "echo", ""))
	ok := tb.caller.expectResponse(200, wait)
	if !bytes.Contains(ok.Body(), []byte("127.0.3.1")) {
		t.Errorf("echo answer SDP:\n%s", ok.Body())
	}
	if m := tb.callee.recv(200 * time.Millisecond); m != nil {
		t.Errorf("callee got %s for a service call", short(m))
	}
	if ops := tb.media.opsSeen(); len(ops) != 1 || ops[0] != "serve-echo" {
		t.Errorf("media ops %v", ops)
	}
}

func TestBadRequestsGetErrors(t *testing.T) {
	tb := newTestBed(t)
	cases := []struct {
		name string
		msg  string
		code int
	}{
		{"max-forwards exhausted", strings.Replace(tb.invite("mf0", "1000", ""), "Max-Forwards: 70", "Max-Forwards: 0", 1), 483},
		{"unknown method", strings.Replace(strings.Replace(tb.invite("unk", "1000", ""), "INVITE sip:", "FROBNICATE sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 FROBNICATE", 1), 501},
		{"bye outside dialog", strings.Replace(strings.Replace(tb.invite("bye", "1000", ""), "INVITE sip:", "BYE sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 BYE", 1), 481},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb.caller.send(tb.sbcA, tc.msg)
			tb.caller.expectResponse(tc.code, wait)
		})
	}
}

func TestRegisteredUserIsReachable(t *testing.T) {
	tb := newTestBed(t)
	phone := newPeer(t, "127.0.3.20")
	phone.send(tb.sbcA, fmt.Sprintf(`
REGISTER sip:127.0.3.1 SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-reg1;rport
Max-Forwards: 70
From: <sip:carol@127.0.3.1>;tag=reg1
To: <sip:carol@127.0.3.1>
Call-ID: reg-1
CSeq: 1 REGISTER
Contact: <sip:carol@10.9.9.9:5060>;expires=600
Content-Length: 0

`, phone.addr()))
	res := phone.expectResponse(200, wait)
	if ct := res.Contact(); ct == nil || ct.Address.Host != "10.9.9.9" {
		t.Fatalf("binding not echoed: %s", res.String())
	}
	got := tb.b.reg.lookup("access", "carol")
	if len(got) != 1 || got[0].source != phone.addr() {
		t.Fatalf("bindings %+v", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %v", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMessageCrossesWithHiding(t *testing.T) {
	tb := newTestBed(t)
	body := "hello across the border"
	tb.caller.send(tb.sbcA, fmt.Sprintf(`
MESSAGE sip:1000@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-msg1;rport
Max-Forwards: 70
From: <sip:alice@%s>;tag=msg-tag-1
To: <sip:1000@%s>
Call-ID: msg-call-1
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: %d

%s`, tb.sbcA, tb.caller.addr(), tb.caller.addr(), tb.sbcA, len(body), body))
	m := tb.callee.expectRequest("MESSAGE", wait)
	if string(m.Body()) != body {
		t.Errorf("body %q", m.Body())
	}
	if ct := m.ContentType(); ct == nil || ct.Value() != "text/plain" {
		t.Errorf("content type %v", ct)
	}
	if m.CallID().Value() == "msg-call-1" || bytes.Contains(tb.callee.raw[0], []byte(tb.caller.addr())) {
		t.Errorf("MESSAGE leaked the caller's dialog or address:\n%s", tb.callee.raw[0])
	}
	tb.callee.send(tb.sbcB, reply(m, 202, "Accepted", "bob-msg", "", "", ""))
	tb.caller.expectResponse(202, wait)
	waitFor(t, func() bool { return tb.b.ActiveCalls() == 0 })
}

// refer sends a REFER from the callee inside the call's B dialog.
func (tb *testBed) refer(inv *sip.Request, callID, target string) {
	tb.callee.send(tb.sbcB, fmt.Sprintf(`
REFER %s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-refer-%s;rport
Max-Forwards: 70
From: <sip:bob@%s>;tag=bobtag
To: %s
Call-ID: %s
CSeq: 20 REFER
Contact: <sip:bob@%s>
Refer-To: <sip:%s@10.20.30.40>
Content-Length: 0

`, inv.Contact().Address.String(), tb.callee.addr(), callID, tb.callee.addr(), inv.From().Value(), inv.CallID().Value(), tb.callee.addr(), target))
}

func TestReferTransfersRemainingParty(t *testing.T) {
	tb := newTestBed(t)
	callID := "xfer-1"
	inv, tag := tb.answered(t, callID)
	tb.refer(inv, callID, "2000")
	tb.callee.expectResponse(202, wait)
	var newInv *sip.Request
	var frags []string
	byeOld := false
	for newInv == nil || !byeOld || len(frags) < 2 {
		m := tb.callee.recv(wait)
		r, ok := m.(*sip.Request)
		if !ok {
			t.Fatalf("callee got %v (invite %v, bye %v, notify %v)", short(m), newInv != nil, byeOld, frags)
		}
		switch r.Method {
		case sip.INVITE:
			newInv = r
			if r.Recipient.User != "2000" || r.CallID().Value() == inv.CallID().Value() {
				t.Errorf("transfer INVITE %s, Call-ID %s", r.Recipient.String(), r.CallID().Value())
			}
			if bytes.Contains(tb.callee.raw[len(tb.callee.raw)-1], []byte("10.20.30.40")) {
				t.Errorf("the Refer-To host crossed into the new INVITE")
			}
			tb.callee.send(tb.sbcB, reply(r, 200, "OK", "carol", "sip:carol@"+tb.callee.addr(), "", calleeSDP))
		case sip.NOTIFY:
			frags = append(frags, strings.TrimSpace(string(r.Body())))
			tb.callee.send(tb.sbcB, reply(r, 200, "OK", "", "", "", ""))
		case sip.BYE:
			if r.CallID().Value() != inv.CallID().Value() {
				t.Fatalf("BYE for the wrong dialog")
			}
			byeOld = true
			tb.callee.send(tb.sbcB, reply(r, 200, "OK", "", "", "", ""))
		case sip.ACK:
		}
	}
	if frags[0] != "SIP/2.0 100 Trying" || frags[len(frags)-1] != "SIP/2.0 200 OK" {
		t.Errorf("NOTIFY sipfrags %q", frags)
	}
	// The caller now talks to the transfer target: its BYE reaches the new dialog.
	tb.caller.send(tb.sbcA, tb.inDialog("BYE", callID, tag, 2, ""))
	tb.caller.expectResponse(200, wait)
	for {
		r, ok := tb.callee.recv(wait).(*sip.Request)
		if !ok {
			t.Fatal("no BYE on the new dialog")
		}
		if r.Method == sip.BYE {
			if r.CallID().Value() != newInv.CallID().Value() {
				t.Errorf("BYE went to %s, want the transfer target's dialog", r.CallID().Value())
			}
			break
		}
	}
}

func TestReferToUnroutableTargetIsRefused(t *testing.T) {
	tb := newTestBed(t)
	inv, _ := tb.answered(t, "xfer-2")
	tb.refer(inv, "xfer-2", "404")
	tb.callee.expectResponse(403, wait)
}
