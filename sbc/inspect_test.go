package sbc

import (
	"context"
	"testing"
	"time"
)

func TestCallsListedAndHungUpByOperator(t *testing.T) {
	tb := newTestBed(t)
	callID := "inspect-1"
	inv, _ := tb.answered(t, callID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var calls []CallInfo
	waitFor(t, func() bool { calls = tb.b.Calls(ctx); return len(calls) == 1 && calls[0].State == "confirmed" })
	ci := calls[0]
	if ci.State != "confirmed" || ci.Caller != "alice" || ci.Callee != "1000" || ci.Route != "out" || ci.Answered.IsZero() {
		t.Fatalf("call info %+v", ci)
	}
	if len(ci.Legs) != 2 || ci.Legs[0].CallID != callID || ci.Legs[1].CallID != inv.CallID().Value() ||
		ci.Legs[1].Trunk != "pbx" || ci.Legs[1].Realm != "core" || !ci.Legs[1].Confirmed ||
		ci.Legs[1].Peer != tb.callee.addr() || ci.Legs[0].Peer != tb.caller.addr() {
		t.Fatalf("legs %+v", ci.Legs)
	}
	one, ok := tb.b.Call(ctx, ci.ID)
	if !ok || one.ID != ci.ID {
		t.Fatalf("Call(%q) = %+v, %v", ci.ID, one, ok)
	}
	if _, ok := tb.b.Call(ctx, "nope"); ok {
		t.Fatal("unknown call found")
	}
	if tb.b.HangupCall("nope") {
		t.Fatal("hangup of an unknown call reported success")
	}
	if !tb.b.HangupCall(ci.ID) {
		t.Fatal("hangup refused")
	}
	tb.caller.expectRequest("BYE", wait)
	tb.callee.expectRequest("BYE", wait)
	waitFor(t, func() bool { _, _, r := tb.obs.snapshot(); return len(r) == 1 && r[0].Cause == "admin" })
	if n := len(tb.b.Calls(ctx)); n != 0 {
		t.Fatalf("%d calls after hangup", n)
	}
}
