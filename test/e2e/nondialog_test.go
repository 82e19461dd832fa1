package e2e

import (
	"strings"
	"testing"
)

// TestSubscribeNotify: a watcher in the access realm subscribes to presence
// at the PBX; the 200 and both NOTIFYs come back through sbcd within the
// subscription dialog, bodies and event headers intact, nothing of either
// side leaking into the other.
func TestSubscribeNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 29, nil)
	server := e.callee("presence", "uas_notify.xml", 0, nil)
	watcher := e.caller("watcher", "uac_subscribe.xml", 0, func(o *SippOpts) { o.Service = "bob" })
	wr, sr := watcher.Wait(t), server.Wait(t)
	wantExit0(t, wr, sr)
	e.checkLeaks([]*SippResult{wr}, []*SippResult{sr})

	subs := sr.Requests(false, "SUBSCRIBE")
	sent := wr.Requests(true, "SUBSCRIBE")
	if len(subs) == 0 || len(sent) == 0 {
		t.Fatalf("SUBSCRIBE sent %d, received %d\n%s\n%s", len(sent), len(subs), wr.Report(), sr.Report())
	}
	in, out := subs[0], sent[0]
	if in.CallID() == out.CallID() || in.FromTag() == out.FromTag() {
		t.Errorf("core SUBSCRIBE reuses the watcher's Call-ID or tag: %q/%q", in.CallID(), in.FromTag())
	}
	for _, h := range []string{"Event", "Accept", "Expires"} {
		if in.Header(h) != out.Header(h) {
			t.Errorf("SUBSCRIBE %s %q at the PBX, %q sent", h, in.Header(h), out.Header(h))
		}
	}
	if c := in.Header("Contact"); !strings.Contains(c, e.topo.CoreIP()) {
		t.Errorf("core SUBSCRIBE Contact %q, want sbcd's core address %s", c, e.topo.CoreIP())
	}

	if oks := wr.Responses(false, 200, "SUBSCRIBE"); len(oks) == 0 || oks[0].Header("Expires") != "60" {
		t.Errorf("watcher's 200 to SUBSCRIBE: %d, Expires %q; want one with Expires 60", len(oks), first(oks).Header("Expires"))
	}
	notifies := wr.Requests(false, "NOTIFY")
	if len(notifies) < 2 {
		t.Fatalf("watcher got %d NOTIFYs, want 2\n%s", len(notifies), wr.Report())
	}
	active, ended := notifies[0], notifies[len(notifies)-1]
	if active.CallID() != out.CallID() || active.ToTag() != out.FromTag() {
		t.Errorf("NOTIFY not in the watcher's dialog: Call-ID %q To-tag %q, want %q %q",
			active.CallID(), active.ToTag(), out.CallID(), out.FromTag())
	}
	if !strings.HasPrefix(active.Header("Subscription-State"), "active") || active.Header("Event") != "presence" {
		t.Errorf("first NOTIFY Subscription-State %q Event %q", active.Header("Subscription-State"), active.Header("Event"))
	}
	if !strings.Contains(active.Body, `entity="sip:bob@example.org"`) || active.Header("Content-Type") != "application/pidf+xml" {
		t.Errorf("first NOTIFY lost its PIDF body: %q (%s)", active.Body, active.Header("Content-Type"))
	}
	if !strings.HasPrefix(ended.Header("Subscription-State"), "terminated") {
		t.Errorf("last NOTIFY Subscription-State %q, want terminated", ended.Header("Subscription-State"))
	}
	if c := active.Header("Contact"); !strings.Contains(c, e.topo.AccessIP()) {
		t.Errorf("NOTIFY Contact %q, want sbcd's access address %s", c, e.topo.AccessIP())
	}
}

// TestMessage: an instant message crosses the border with its body.
func TestMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 60, nil)
	callee := e.callee("callee", "uas_message.xml", 0, nil)
	caller := e.caller("caller", "uac_message.xml", 0, func(o *SippOpts) { o.Service = "bob" })
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	got := er.Requests(false, "MESSAGE")
	if len(got) == 0 {
		t.Fatalf("callee got no MESSAGE\n%s", er.Report())
	}
	if !strings.Contains(got[0].Body, "hello across the border") || got[0].Header("Content-Type") != "text/plain" {
		t.Errorf("MESSAGE body %q (%s), want the text sent", got[0].Body, got[0].Header("Content-Type"))
	}
	if !strings.HasPrefix(got[0].RequestURI(), "sip:bob@") {
		t.Errorf("MESSAGE Request-URI %q, want the user dialled", got[0].RequestURI())
	}
}
