package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// callerGetsNotRegistered calls user from the core side and wants sbcd's
// own 404 (no binding left), quickly.
func callerGetsNotRegistered(t *testing.T, topo Topology, user string) {
	t.Helper()
	c, err := NewGoCaller(topo.GatewayIP(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	offer := fmt.Sprintf("v=0\r\no=core 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n",
		topo.GatewayIP(0), topo.GatewayIP(0), CalleeMediaPort)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := c.Invite(ctx, user, topo.CoreSIP(), []byte(offer))
	if err != nil {
		t.Fatalf("call to %s: %v", user, err)
	}
	if res.Status() != 404 || time.Since(start) > 2*time.Second {
		t.Errorf("call to %s after its binding was dropped: %d after %v, want 404 at once", user, res.Status(), time.Since(start))
	}
}

// TestRegisterDeadUDPContactDropped: a phone behind NAT answers OPTIONS
// keep-alives and keeps its binding; once it stops answering, sbcd drops
// the binding after keepalive_failures unanswered keep-alives, long before
// it expires, and a call for the user gets 404 at once.
func TestRegisterDeadUDPContactDropped(t *testing.T) {
	t.Parallel()
	const net = 96
	topo := Topology{Net: net}
	e := newEnv(t, net, withRegisteredUsers(func(r *policy.RealmConfig) {
		r.Registration = policy.RegistrationConfig{KeepAlive: time.Second, KeepAliveFailures: 2}
	}))
	ph := newPhone(t, "alice", fmt.Sprintf("%s:%d", topo.CallerIP(0), CallerPort), topo.AccessSIP())
	if res := ph.register(300, ""); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	// Answered keep-alives keep the binding.
	waitFor(t, "three answered keep-alives", 8*time.Second, func() bool { return ph.options.Load() >= 3 })
	if l := e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "binding dropped" }); len(l) != 0 {
		t.Fatalf("a binding that answers its keep-alives was dropped: %v", l)
	}
	// The phone goes away (its NAT binding with it): no more answers.
	ph.close()
	gone := time.Now()
	l, err := e.sbcd.WaitFor(func(l LogLine) bool { return l.Msg() == "binding dropped" }, 12*time.Second)
	if err != nil {
		t.Fatalf("the dead contact was not dropped: %v", err)
	}
	took := time.Since(gone)
	if l.Str("user") != "alice" || l.Str("reason") != "keepalive_unanswered" || l.Str("source") != fmt.Sprintf("%s:%d", topo.CallerIP(0), CallerPort) {
		t.Errorf("drop logged as %v", l)
	}
	// Two failures of a 2 s transaction, the next keep-alive at most one
	// interval (1 s) after the last answer: within 2 x (1 s + 2 s), far
	// from the 300 s expiry.
	if took > 7500*time.Millisecond { // 1.5 s for a loaded machine
		t.Errorf("dropped %v after the phone went away, want within 2 x (1s interval + 2s timeout)", took)
	}
	t.Logf("dead UDP contact dropped %v after the phone went away", took.Round(10*time.Millisecond))
	callerGetsNotRegistered(t, topo, "alice")
}

// TestRegisterTCPFlowClosedDropsBinding: a phone registered over TCP
// loses its connection; its binding goes with it at once (the call would
// otherwise be sent into a connection that no longer exists).
func TestRegisterTCPFlowClosedDropsBinding(t *testing.T) {
	t.Parallel()
	const net = 97
	topo := Topology{Net: net}
	e := newEnv(t, net, func(c *policy.Config) {
		c.Realms[0].Listeners = append(c.Realms[0].Listeners, policy.ListenerConfig{Transport: "tcp", Address: topo.AccessSIP()})
		withRegisteredUsers(func(r *policy.RealmConfig) { r.Registration.KeepAlive = 10 * time.Second })(c)
	})
	ph := dialTCPPhone(t, fmt.Sprintf("%s:0", topo.CallerIP(0)), topo.AccessSIP())
	ph.send(fmt.Sprintf(`
REGISTER sip:%s SIP/2.0
Via: SIP/2.0/TCP 192.168.77.20:5062;branch=z9hG4bK-tcpdead-1;rport
From: <sip:dave@%s>;tag=tcpd1
To: <sip:dave@%s>
Call-ID: tcp-dead-1
CSeq: 1 REGISTER
Contact: <sip:dave@192.168.77.20:5062;transport=tcp>
Expires: 300
Max-Forwards: 70
Content-Length: 0

`, topo.AccessIP(), topo.AccessIP(), topo.AccessIP()))
	if res, ok := ph.next("200 to REGISTER", 5*time.Second).(*sip.Response); !ok || res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP: %v", res)
	}
	// The connection stays: so does the binding.
	time.Sleep(1500 * time.Millisecond)
	if l := e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "binding dropped" }); len(l) != 0 {
		t.Fatalf("a binding with a live connection was dropped: %v", l)
	}
	local := ph.conn.LocalAddr().String()
	_ = ph.conn.Close()
	closed := time.Now()
	l, err := e.sbcd.WaitFor(func(l LogLine) bool { return l.Msg() == "binding dropped" }, 5*time.Second)
	if err != nil {
		t.Fatalf("the binding outlived its connection: %v", err)
	}
	if l.Str("user") != "dave" || l.Str("reason") != "flow_closed" || l.Str("source") != local {
		t.Errorf("drop logged as %v, want dave's flow from %s", l, local)
	}
	took := time.Since(closed)
	if took > 3*time.Second {
		t.Errorf("dropped %v after the connection closed, want within about a second", took)
	}
	t.Logf("TCP binding dropped %v after its connection closed", took.Round(time.Millisecond))
	callerGetsNotRegistered(t, topo, "dave")
}
