package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc"
)

// TestRegisterOutboundTrunk: sbcd registers itself with a carrier trunk
// that challenges, refreshes before expiry, backs off while the registrar
// refuses and registers again when it accepts; sbcctl and /metrics show
// the state; on SIGTERM sbcd un-registers (Expires: 0) before it exits.
func TestRegisterOutboundTrunk(t *testing.T) {
	t.Parallel()
	const net = 63
	topo := Topology{Net: net}
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	reg := newRegistrar(t, topo.Gateway(1), "carrier.example", "s3cret")
	reg.grant.Store(2) // the registrar grants 2 s: sbcd refreshes after 1.6 s
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{{Name: "noc", Role: "read_only", SHA256: tokenHash("ro")}}}
		c.Trunks = append(c.Trunks, policy.TrunkConfig{Name: "carrier", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}},
			Register: &policy.TrunkRegisterConfig{Username: "4930123", Password: "s3cret", Domain: "carrier.example",
				RetryMin: time.Second, RetryMax: 2 * time.Second}})
	})
	state := func() sbc.OutboundRegistration {
		code, out, errOut := sbcctl(t, "ro", "-admin", admin, "-json", "registrations", "outbound")
		if code != 0 {
			t.Fatalf("sbcctl registrations outbound: exit %d %s", code, errOut)
		}
		var regs []sbc.OutboundRegistration
		if err := json.Unmarshal([]byte(out), &regs); err != nil || len(regs) != 1 {
			t.Fatalf("outbound registrations %q: %v", out, err)
		}
		return regs[0]
	}

	// Challenge answered, then refreshed within the granted 2 s.
	waitFor(t, "first registration", 5*time.Second, func() bool { _, ok := reg.counts(); return ok >= 1 })
	first := reg.last()
	if first.From().Address.User != "4930123" || first.From().Address.Host != "carrier.example" {
		t.Errorf("From %s, want sip:4930123@carrier.example", first.From().Value())
	}
	if ct := first.Contact(); ct == nil || ct.Address.Host != topo.CoreIP() || ct.Address.Port != CoreSIPPort || ct.Address.User != "4930123" {
		t.Errorf("Contact %v, want sip:4930123@%s", first.Contact(), topo.CoreSIP())
	}
	if exp := first.GetHeader("Expires"); exp == nil || exp.Value() != "600" {
		t.Errorf("Expires %v, want the default 600", exp)
	}
	if first.GetHeader("Authorization") == nil {
		t.Error("accepted REGISTER carries no Authorization")
	}
	waitFor(t, "refresh", 4*time.Second, func() bool { _, ok := reg.counts(); return ok >= 2 })
	refresh := reg.last()
	if refresh.CallID().Value() != first.CallID().Value() || refresh.CSeq().SeqNo <= first.CSeq().SeqNo {
		t.Errorf("refresh Call-ID/CSeq %s/%d after %s/%d", refresh.CallID().Value(), refresh.CSeq().SeqNo, first.CallID().Value(), first.CSeq().SeqNo)
	}
	st := state()
	if st.State != sbc.RegRegistered || st.Trunk != "carrier" || st.AOR != "sip:4930123@carrier.example" || st.Registrations < 2 {
		t.Errorf("state %+v, want registered carrier", st)
	}
	code, table, _ := sbcctl(t, "ro", "-admin", admin, "registrations", "outbound")
	if code != 0 || !strings.Contains(table, "carrier") || !strings.Contains(table, "registered") {
		t.Errorf("sbcctl table (exit %d):\n%s", code, table)
	}

	// The registrar refuses: sbcd backs off 1 s, 2 s, 2 s and says so.
	reg.refuse.Store(503)
	before := len(reg.arrivals())
	waitFor(t, "three refused attempts", 12*time.Second, func() bool { return len(reg.arrivals()) >= before+3 })
	at := reg.arrivals()[before:]
	gap1, gap2 := at[1].Sub(at[0]), at[2].Sub(at[1])
	if gap1 < 800*time.Millisecond || gap1 > 1500*time.Millisecond || gap2 < 1800*time.Millisecond || gap2 > 2600*time.Millisecond {
		t.Errorf("retries after %v then %v, want about 1s then 2s", gap1, gap2)
	}
	st = state()
	if st.State != sbc.RegFailed || st.LastStatus != 503 || st.Failures < 2 || st.LastError == "" {
		t.Errorf("state while refused %+v", st)
	}
	m := scrape(t, admin)
	for sample, want := range map[string]float64{
		`openborder_trunk_registration_state{realm="core",state="failed",trunk="carrier"}`:     1,
		`openborder_trunk_registration_state{realm="core",state="registered",trunk="carrier"}`: 0,
	} {
		if got, ok := m[sample]; !ok || got != want {
			t.Errorf("while refused: %s = %v (present %v), want %v", sample, got, ok, want)
		}
	}
	if n := m[`openborder_trunk_registration_failures_total{realm="core",trunk="carrier"}`]; n < 2 {
		t.Errorf("failures_total %v while refused, want at least 2", n)
	}
	if n := m[`openborder_trunk_registration_consecutive_failures{realm="core",trunk="carrier"}`]; n < 2 {
		t.Errorf("consecutive_failures %v while refused, want at least 2", n)
	}

	// The registrar accepts again: registered at the next attempt.
	reg.refuse.Store(0)
	waitFor(t, "registered again", 5*time.Second, func() bool { return state().State == sbc.RegRegistered })
	if st := state(); st.Failures != 0 || st.Expires.IsZero() {
		t.Errorf("state after recovery %+v", st)
	}
	m = scrape(t, admin)
	if m[`openborder_trunk_registration_state{realm="core",state="registered",trunk="carrier"}`] != 1 ||
		m[`openborder_trunk_registration_state{realm="core",state="failed",trunk="carrier"}`] != 0 ||
		m[`openborder_trunk_registration_successes_total{realm="core",trunk="carrier"}`] < 3 ||
		m[`openborder_trunk_registration_consecutive_failures{realm="core",trunk="carrier"}`] != 0 {
		t.Errorf("metrics after recovery: state registered %v failed %v, successes %v, consecutive failures %v",
			m[`openborder_trunk_registration_state{realm="core",state="registered",trunk="carrier"}`],
			m[`openborder_trunk_registration_state{realm="core",state="failed",trunk="carrier"}`],
			m[`openborder_trunk_registration_successes_total{realm="core",trunk="carrier"}`],
			m[`openborder_trunk_registration_consecutive_failures{realm="core",trunk="carrier"}`])
	}
	failedBefore := m[`openborder_trunk_registration_failures_total{realm="core",trunk="carrier"}`]
	if _, err := e.sbcd.WaitMsg("trunk registration failed", time.Second); err != nil {
		t.Error("refusals were not logged")
	}

	// A reload with another account un-registers the old one and
	// registers the new one.
	e.cfg.Trunks[len(e.cfg.Trunks)-1].Register.Username = "4930999"
	if err := WriteConfig(e.cfgPath, e.cfg); err != nil {
		t.Fatal(err)
	}
	mark := len(reg.arrivals())
	if err := e.sbcd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "registration of the new account", 5*time.Second, func() bool {
		st := state()
		return st.State == sbc.RegRegistered && st.AOR == "sip:4930999@carrier.example"
	})
	var unregistered bool
	reg.mu.Lock()
	for _, r := range reg.received[mark:] {
		if r.From().Address.User == "4930123" && r.GetHeader("Expires").Value() == "0" {
			unregistered = true
		}
	}
	reg.mu.Unlock()
	if !unregistered {
		t.Error("the old account was not un-registered on reload")
	}
	// The counters are sbcd's: the restarted client keeps them.
	if n := scrape(t, admin)[`openborder_trunk_registration_failures_total{realm="core",trunk="carrier"}`]; n < failedBefore {
		t.Errorf("failures_total went from %v to %v across the reload", failedBefore, n)
	}

	// SIGTERM: the trunk is un-registered before sbcd exits.
	mark = len(reg.arrivals())
	if err := e.sbcd.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := e.sbcd.Wait(15 * time.Second); err != nil || code != 0 {
		t.Fatalf("sbcd after SIGTERM: exit %d, %v", code, err)
	}
	unregistered = false
	reg.mu.Lock()
	for _, r := range reg.accepted {
		if r.From().Address.User == "4930999" && r.GetHeader("Expires").Value() == "0" && r.GetHeader("Authorization") != nil {
			unregistered = true
		}
	}
	n := len(reg.received) - mark
	reg.mu.Unlock()
	if !unregistered || n == 0 {
		t.Errorf("no authenticated un-REGISTER (Expires: 0) reached the registrar on SIGTERM (%d REGISTERs after it)", n)
	}
	if _, err := e.sbcd.WaitMsg("trunk unregistered", time.Second); err != nil {
		t.Error("the un-registration on shutdown was not logged")
	}
}

// TestRegisterOutboundRegistrarRestart: the carrier's registrar goes away
// (no answer at all) and comes back without any memory of sbcd; sbcd's
// refresh times out, it backs off and registers with the new process.
func TestRegisterOutboundRegistrarRestart(t *testing.T) {
	t.Parallel()
	const net = 69
	topo := Topology{Net: net}
	reg := newRegistrar(t, topo.Gateway(1), "carrier.example", "pw")
	reg.grant.Store(2)
	e := newEnv(t, net, func(c *policy.Config) {
		c.Trunks = append(c.Trunks, policy.TrunkConfig{Name: "carrier", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}},
			Register: &policy.TrunkRegisterConfig{Username: "sbc", Password: "pw", RetryMin: time.Second, RetryMax: time.Second}})
	})
	waitFor(t, "first registration", 5*time.Second, func() bool { _, ok := reg.counts(); return ok >= 1 })
	first := reg.last()
	if first.From().Address.Host != topo.GatewayIP(1) {
		t.Errorf("default domain %q, want the gateway's IP %s", first.From().Address.Host, topo.GatewayIP(1))
	}

	reg.close() // the registrar process dies
	if _, err := e.sbcd.WaitFor(func(l LogLine) bool {
		return l.Msg() == "trunk registration failed" && strings.Contains(l.Str("err"), "registrar unreachable")
	}, 10*time.Second); err != nil {
		t.Fatalf("no failed refresh while the registrar is gone: %v", err)
	}
	again := newRegistrar(t, topo.Gateway(1), "carrier.example", "pw")
	waitFor(t, "registration with the restarted registrar", 5*time.Second, func() bool { _, ok := again.counts(); return ok >= 1 })
	registered := func() int {
		return len(e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "trunk registered" && l.Str("trunk") == "carrier" }))
	}
	waitFor(t, "the recovery in the log (second \"trunk registered\")", 3*time.Second, func() bool { return registered() >= 2 })
	if got := again.last().CallID().Value(); got != first.CallID().Value() {
		t.Errorf("Call-ID changed across the outage: %s then %s", first.CallID().Value(), got)
	}
}
