package sbc

import (
	"fmt"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// recObserver keeps what a B2BUA reports.
type recObserver struct {
	mu       sync.Mutex
	msgs     []string // realm dir method-or-status
	rejected []string // realm method reason
	records  []*CallRecord
	answered []*CallRecord
}

func (o *recObserver) Message(ev MessageEvent) {
	what := ""
	switch m := ev.Msg.(type) {
	case *sip.Request:
		what = string(m.Method)
	case *sip.Response:
		what = fmt.Sprintf("%d %s", m.StatusCode, m.CSeq().MethodName)
	}
	o.mu.Lock()
	o.msgs = append(o.msgs, ev.Realm+" "+ev.Dir.String()+" "+what)
	o.mu.Unlock()
}

func (o *recObserver) Rejected(realm string, method sip.RequestMethod, reason string) {
	o.mu.Lock()
	o.rejected = append(o.rejected, realm+" "+string(method)+" "+reason)
	o.mu.Unlock()
}

func (o *recObserver) AttemptStarted(*CallRecord) {}

func (o *recObserver) CallAnswered(rec *CallRecord) {
	o.mu.Lock()
	o.answered = append(o.answered, rec)
	o.mu.Unlock()
}

func (o *recObserver) CallEnded(rec *CallRecord) {
	o.mu.Lock()
	o.records = append(o.records, rec)
	o.mu.Unlock()
}

func (o *recObserver) snapshot() (msgs, rejected []string, recs []*CallRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.msgs...), append([]string(nil), o.rejected...), append([]*CallRecord(nil), o.records...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestObserverSeesAnsweredCall(t *testing.T) {
	tb := newTestBed(t)
	callID := "obs-1"
	inv, tag := tb.answered(t, callID)
	tb.caller.send(tb.sbcA, tb.inDialog("BYE", callID, tag, 2, ""))
	tb.caller.expectResponse(200, wait)
	bye := tb.callee.expectRequest("BYE", wait)
	tb.callee.send(tb.sbcB, reply(bye, 200, "OK", "", "", "", ""))
	waitFor(t, func() bool { m, _, r := tb.obs.snapshot(); return len(r) == 1 && contains(m, "core in 200 BYE") })

	msgs, rejected, recs := tb.obs.snapshot()
	for _, want := range []string{
		"access in INVITE", "access out 100 INVITE", "core out INVITE", "core in 200 INVITE",
		"access out 200 INVITE", "access in ACK", "core out ACK", "access in BYE", "access out 200 BYE",
		"core out BYE", "core in 200 BYE",
	} {
		if !contains(msgs, want) {
			t.Errorf("observer did not see %q; saw %q", want, msgs)
		}
	}
	if len(rejected) != 0 {
		t.Errorf("rejections reported for a good call: %q", rejected)
	}
	tb.obs.mu.Lock()
	if len(tb.obs.answered) != 1 || tb.obs.answered[0].Answered.IsZero() || !tb.obs.answered[0].End.IsZero() {
		t.Errorf("CallAnswered records: %+v", tb.obs.answered)
	}
	tb.obs.mu.Unlock()
	r := recs[0]
	if r.ACallID != callID || r.BCallID != inv.CallID().Value() || r.ARealm != "access" || r.BRealm != "core" {
		t.Errorf("record legs = %q/%q %s/%s", r.ACallID, r.BCallID, r.ARealm, r.BRealm)
	}
	if r.Trunk != "pbx" || r.Gateway != tb.callee.addr() || r.Route != "out" {
		t.Errorf("record trunk %q gateway %q route %q", r.Trunk, r.Gateway, r.Route)
	}
	if r.Cause != "caller_bye" || r.Side() != "caller" || r.Status != 200 {
		t.Errorf("record cause %q side %q status %d", r.Cause, r.Side(), r.Status)
	}
	if r.Answered.IsZero() || r.End.Before(r.Answered) || r.Answered.Before(r.Start) {
		t.Errorf("record times start %v answered %v end %v", r.Start, r.Answered, r.End)
	}
	if len(r.Attempts) != 1 || r.Attempts[0].Status != 200 || r.Attempts[0].Trunk != "pbx" {
		t.Errorf("attempts = %+v", r.Attempts)
	}
	if r.CalleeIn != "1000" || r.CalleeOut != "1000" || r.CallerIn != "alice" || r.CallerOut != "alice" {
		t.Errorf("parties in %q->%q out %q->%q", r.CallerIn, r.CalleeIn, r.CallerOut, r.CalleeOut)
	}
}

func TestObserverSeesFailureAndRefusal(t *testing.T) {
	tb := newTestBed(t)
	tb.caller.send(tb.sbcA, tb.invite("obs-busy", "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "x", "", "", ""))
	tb.caller.expectResponse(180, wait)
	tb.callee.send(tb.sbcB, reply(inv, 486, "Busy Here", "x", "", "", ""))
	tb.caller.expectResponse(486, wait)
	tb.callee.expectRequest("ACK", wait)

	// A request from the core realm to a number its route rejects.
	tb.callee.send(tb.sbcB, fmt.Sprintf(`
INVITE sip:404@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-obs-404;rport
Max-Forwards: 70
From: <sip:bob@%s>;tag=b404
To: <sip:404@%s>
Call-ID: obs-404
CSeq: 1 INVITE
Contact: <sip:bob@%s>
Content-Length: 0

`, tb.sbcB, tb.callee.addr(), tb.callee.ip, tb.sbcB, tb.callee.addr()))
	tb.callee.expectResponse(404, wait)
	waitFor(t, func() bool { _, _, r := tb.obs.snapshot(); return len(r) == 2 })

	_, rejected, recs := tb.obs.snapshot()
	byCall := map[string]*CallRecord{}
	for _, r := range recs {
		byCall[r.ACallID] = r
	}
	busy := byCall["obs-busy"]
	if busy == nil || busy.Status != 486 || busy.Cause != "failed" || busy.Side() != "callee" || busy.Ringing.IsZero() {
		t.Fatalf("busy record = %+v", busy)
	}
	if len(busy.Attempts) != 1 || busy.Attempts[0].Status != 486 {
		t.Errorf("busy attempts = %+v", busy.Attempts)
	}
	ref := byCall["obs-404"]
	if ref == nil || ref.Status != 404 || ref.Cause != "rejected" || ref.Reason != "route" || ref.Side() != "sbc" || len(ref.Attempts) != 0 {
		t.Fatalf("refused record = %+v", ref)
	}
	if !contains(rejected, "core INVITE route") {
		t.Errorf("rejections = %q", rejected)
	}
}
