package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// env is one test's sbcd on its own loopback network.
type env struct {
	t       *testing.T
	topo    Topology
	dir     string
	cfg     *policy.Config
	cfgPath string
	sbcd    *Sbcd
}

// newEnv is newGoEnv for tests whose peers are sipp: it writes the
// topology's config (changed by mutate), starts sbcd and
// waits until it is ready.
func newEnv(t *testing.T, net int, mutate func(*policy.Config)) *env {
	t.Helper()
	RequireTool(t, "sipp")
	return newGoEnv(t, net, mutate)
}

// withSecondGateway adds gateway 2 (priority 2) to trunk pbx.
func withSecondGateway(net int) func(*policy.Config) {
	return func(cfg *policy.Config) {
		cfg.Trunks[0].Gateways = append(cfg.Trunks[0].Gateways,
			policy.GatewayConfig{Address: Topology{Net: net}.Gateway(1), Transport: "udp", Priority: 2})
	}
}

// callee starts a UAS sipp on gateway gw.
func (e *env) callee(name, scenario string, gw int, mod func(*SippOpts)) *Sipp {
	e.t.Helper()
	return StartSipp(e.t, SippOpts{
		Name: name, Scenario: scenario, LocalIP: e.topo.GatewayIP(gw), LocalPort: GatewayPort,
		MediaPort: CalleeMediaPort, Timeout: 30 * time.Second, Dir: e.dir,
	}.with(mod))
}

// caller starts a UAC sipp on caller address i, sending to the access realm.
func (e *env) caller(name, scenario string, i int, mod func(*SippOpts)) *Sipp {
	e.t.Helper()
	return StartSipp(e.t, SippOpts{
		Name: name, Scenario: scenario, LocalIP: e.topo.CallerIP(i), LocalPort: CallerPort,
		Remote: e.topo.AccessSIP(), Timeout: 30 * time.Second, Dir: e.dir,
	}.with(mod))
}

// checkLeaks scans what the callers received for core-side identifiers and
// what the callees received for access-side identifiers.
func (e *env) checkLeaks(callers, callees []*SippResult) {
	e.t.Helper()
	toCore := NewForbidden()
	toCore.Add("access realm address", e.topo.AccessIdentifiers(len(callers))...)
	toAccess := NewForbidden()
	toAccess.Add("core realm address", e.topo.CoreIdentifiers(2)...)
	for _, c := range callers {
		toCore.AddDialogIDs("access-side", c.Messages)
	}
	for _, c := range callees {
		toAccess.AddDialogIDs("core-side", c.Messages)
	}
	for _, c := range callees {
		for _, l := range ScanLeaks(c.Received(), toCore) {
			e.t.Errorf("topology leak into core (%s): %s", c.Name, l)
		}
	}
	for _, c := range callers {
		for _, l := range ScanLeaks(c.Received(), toAccess) {
			e.t.Errorf("topology leak into access (%s): %s", c.Name, l)
		}
	}
}

// callEnded returns sbcd's "call ended" line for the caller's call.
func (e *env) callEnded(caller *SippResult) LogLine {
	e.t.Helper()
	inv := initialInvites(caller, true)
	if len(inv) == 0 {
		e.t.Fatalf("caller sent no INVITE\n%s", caller.Report())
	}
	l, err := e.sbcd.CallEnded(inv[0].CallID(), 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// wantAttrs checks attributes of a log line.
func wantAttrs(t *testing.T, l LogLine, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := l.Str(k); got != v {
			t.Errorf("%s %s = %q, want %q (line %v)", l.Msg(), k, got, v, l)
		}
	}
}

// wantExit0 requires every sipp to have succeeded.
func wantExit0(t *testing.T, rs ...*SippResult) {
	t.Helper()
	for _, r := range rs {
		if r.ExitCode != 0 {
			t.Errorf("sipp %s failed:\n%s", r.Name, r.Report())
		}
	}
}

// initialInvites returns the out-of-dialog INVITEs (no To-tag), one per
// Via branch so retransmissions count once.
func initialInvites(r *SippResult, sent bool) []Message {
	seen := map[string]bool{}
	var out []Message
	for _, m := range r.Requests(sent, "INVITE") {
		if m.ToTag() != "" {
			continue
		}
		key := strings.Join(m.Branches(), ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out
}

// checkBLeg checks the callee's INVITE is a fresh request built by sbcd:
// new Call-ID and From tag, Max-Forwards decremented, one Via of the core
// listener, no Record-Route, SDP on sbcd's core media address; and, when
// the call was answered, that the caller's 200 carries sbcd's access media.
func (e *env) checkBLeg(caller, callee *SippResult, answered bool) {
	t := e.t
	t.Helper()
	a, b := initialInvites(caller, true), initialInvites(callee, false)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("caller sent %d INVITEs, callee got %d; want 1 and 1\n%s\n%s", len(a), len(b), caller.Report(), callee.Report())
	}
	ai, bi := a[0], b[0]
	if bi.CallID() == ai.CallID() || strings.Contains(bi.CallID(), ai.CallID()) {
		t.Errorf("B-leg Call-ID %q reuses the A-leg's %q", bi.CallID(), ai.CallID())
	}
	if bi.FromTag() == "" || bi.FromTag() == ai.FromTag() {
		t.Errorf("B-leg From tag %q, A-leg %q: want a new one", bi.FromTag(), ai.FromTag())
	}
	if got, want := bi.MaxForwards(), ai.MaxForwards()-1; got != want {
		t.Errorf("B-leg Max-Forwards %d, want %d", got, want)
	}
	if rr := bi.Headers("Record-Route"); len(rr) != 0 {
		t.Errorf("B-leg INVITE has Record-Route %v", rr)
	}
	if v := bi.Headers("Via"); len(v) != 1 || !strings.Contains(v[0], e.topo.CoreIP()) {
		t.Errorf("B-leg Via %v, want exactly one of %s", v, e.topo.CoreIP())
	}
	checkSDP(t, "B-leg INVITE", bi.Body, e.topo.CoreIP(), CoreMediaMin, CoreMediaMax)
	if !answered {
		return
	}
	oks := caller.Responses(false, 200, "INVITE")
	if len(oks) == 0 {
		t.Fatalf("caller got no 200\n%s", caller.Report())
	}
	checkSDP(t, "A-leg 200", oks[0].Body, e.topo.AccessIP(), AccessMediaMin, AccessMediaMax)
}

func checkSDP(t *testing.T, what, body, ip string, lo, hi int) {
	t.Helper()
	addr, port, err := SDPConnection(body)
	if err != nil {
		t.Errorf("%s SDP: %v", what, err)
		return
	}
	if addr != ip || port < lo || port > hi {
		t.Errorf("%s SDP media %s:%d, want %s:%d-%d", what, addr, port, ip, lo, hi)
	}
}

// rtpIn returns the a_rtp_in and b_rtp_in counters of a "call ended" line.
func rtpIn(t *testing.T, l LogLine) (a, b int64) {
	t.Helper()
	a, okA := l.Int("a_rtp_in")
	b, okB := l.Int("b_rtp_in")
	if !okA || !okB {
		t.Errorf("call ended without a_rtp_in/b_rtp_in: %v", l)
	}
	return a, b
}
