package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

func pcmaOffer(ip string, port int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=gocaller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n", ip, ip, port)
}

// TestMediaTimeout: a call whose media never flows is ended by sbcd after
// media.timeout: BYE to both sides, cause media_timeout.
func TestMediaTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 73, func(c *policy.Config) { c.Media.Timeout = 2 * time.Second })
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	ip := e.topo.CallerIP(0)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := caller.Call(ctx, "bob", e.topo.AccessSIP(), pcmaOffer(ip, 6000)); err != nil {
		t.Fatalf("call: %v", err)
	}
	if _, err := caller.WaitBye(8 * time.Second); err != nil {
		t.Fatalf("caller: %v\n%s", err, e.sbcd.Dump(30))
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("call ended after %v, before the 2s media timeout", d)
	}
	wantExit0(t, callee.Wait(t)) // uas_basic wants the BYE sbcd sends on timeout
	l, err := e.sbcd.CallEnded(caller.CallID(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs(t, l, map[string]string{"cause": "media_timeout"})
}

// TestMediaPoolExhausted: with the access realm's pool holding one call's
// ports, a second concurrent call gets 503 and never reaches the callee;
// after the first call ends (and its ports drain) calls succeed again.
func TestMediaPoolExhausted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 74, func(c *policy.Config) {
		c.Realms[0].Media.PortMin, c.Realms[0].Media.PortMax = AccessMediaMin, AccessMediaMin+1
		c.Media.PortDrain = 200 * time.Millisecond
	})
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.Calls = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var callers [3]*GoCaller
	for i := range callers {
		c, err := NewGoCaller(e.topo.CallerIP(i), CallerPort)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		callers[i] = c
	}
	if _, err := callers[0].Call(ctx, "bob", e.topo.AccessSIP(), pcmaOffer(e.topo.CallerIP(0), 6000)); err != nil {
		t.Fatalf("first call: %v", err)
	}
	res, err := callers[1].Invite(ctx, "bob", e.topo.AccessSIP(), pcmaOffer(e.topo.CallerIP(1), 6000))
	if err != nil || res.Status() != 503 {
		t.Fatalf("second call with the pool full: %d %v, want 503", res.Status(), err)
	}
	if l, err := e.sbcd.CallEnded(callers[1].CallID(), 2*time.Second); err != nil {
		t.Error(err)
	} else {
		wantAttrs(t, l, map[string]string{"cause": "rejected", "reason": "media_capacity"})
	}
	if err := callers[0].Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past port_drain
	if _, err := callers[2].Call(ctx, "bob", e.topo.AccessSIP(), pcmaOffer(e.topo.CallerIP(2), 6000)); err != nil {
		t.Fatalf("call after the pool freed up: %v", err)
	}
	if err := callers[2].Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	er := callee.Wait(t)
	wantExit0(t, er)
	if n := len(initialInvitesAll(er)); n != 2 {
		t.Errorf("callee got %d INVITEs, want 2 (the refused call must not reach it)", n)
	}
}

// initialInvitesAll counts distinct initial INVITEs a UAS received.
func initialInvitesAll(r *SippResult) []Message { return initialInvites(r, false) }
