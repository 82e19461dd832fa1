package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestRegisterForwardCaching: phones register through sbcd with a core
// registrar that authenticates them; sbcd relays with its own Contact,
// answers refreshes from its cache, forwards un-REGISTER at once, and a
// call for the user comes back through sbcd to the phone's NAT address.
func TestRegisterForwardCaching(t *testing.T) {
	t.Parallel()
	const net = 62
	topo := Topology{Net: net}
	reg := newRegistrar(t, topo.Gateway(1), "core.example", "secret")
	e := newEnv(t, net, func(c *policy.Config) {
		c.Trunks = append(c.Trunks, policy.TrunkConfig{Name: "registrar", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}}})
		withRegisteredUsers(func(r *policy.RealmConfig) {
			r.Registration = policy.RegistrationConfig{Forward: "registrar", ClientExpires: 60 * time.Second,
				UpstreamExpires: 600 * time.Second, KeepAlive: -time.Second}
		})(c)
	})
	ph := newPhone(t, "alice", fmt.Sprintf("%s:%d", topo.CallerIP(0), CallerPort), topo.AccessSIP())
	ph.domain = "core.example"

	// First registration: the registrar's challenge reaches the phone, the
	// phone's credentials reach the registrar.
	res := ph.registerAuth(3600, "secret")
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER through sbcd: %d", res.StatusCode)
	}
	if exp, _ := res.Contact().Params.Get("expires"); exp != "60" && exp != "59" {
		t.Errorf("phone granted expires=%s, want client_expires 60", exp)
	}
	got, ok := reg.counts()
	if got != 2 || ok != 1 {
		t.Fatalf("registrar saw %d REGISTERs (%d accepted), want 2 (1)", got, ok)
	}
	up := reg.last()
	if ct := up.Contact(); ct == nil || ct.Address.User != "alice" || ct.Address.Host != topo.CoreIP() || ct.Address.Port != CoreSIPPort {
		t.Errorf("upstream Contact %v, want sip:alice@%s", up.Contact(), topo.CoreSIP())
	}
	if exp := up.GetHeader("Expires"); exp == nil || exp.Value() != "600" {
		t.Errorf("upstream Expires %v, want 600", exp)
	}
	if up.CallID().Value() == ph.callID {
		t.Error("upstream REGISTER reuses the phone's Call-ID")
	}
	raw := up.String()
	for _, leak := range append(topo.AccessIdentifiers(1), "192.168.77.20") {
		if strings.Contains(raw, leak) {
			t.Errorf("upstream REGISTER leaks %s:\n%s", leak, raw)
		}
	}

	// The phone refreshes often; sbcd answers from its cache.
	for i := range 5 {
		if res := ph.register(3600, ""); res.StatusCode != 200 {
			t.Fatalf("refresh %d: %d", i, res.StatusCode)
		}
	}
	if got, _ := reg.counts(); got != 2 {
		t.Fatalf("refreshes reached the registrar: %d REGISTERs, want still 2", got)
	}

	// Someone else claiming alice from another address is not answered
	// from the cache: the registrar challenges it.
	intruder := newPhone(t, "alice", fmt.Sprintf("%s:%d", topo.CallerIP(1), CallerPort), topo.AccessSIP())
	intruder.domain = "core.example"
	if res := intruder.register(3600, ""); res.StatusCode != 401 {
		t.Fatalf("REGISTER from another source: %d, want the registrar's 401", res.StatusCode)
	}

	// The core calls alice at sbcd's Contact; sbcd sends it to the phone.
	_, inv := callUser(t, e, ph, "caller", "alice")
	if !strings.HasPrefix(inv, "INVITE sip:alice@192.168.77.20:5062") {
		t.Errorf("INVITE Request-URI: %s", strings.SplitN(inv, "\r\n", 2)[0])
	}

	// Un-REGISTER goes upstream at once (before the phone has its answer).
	before, _ := reg.counts()
	if res := ph.registerAuth(0, "secret"); res.StatusCode != 200 {
		t.Fatalf("un-REGISTER: %d", res.StatusCode)
	}
	after, _ := reg.counts()
	if after <= before {
		t.Fatal("un-REGISTER did not reach the registrar")
	}
	if exp := reg.last().GetHeader("Expires"); exp == nil || exp.Value() != "0" {
		t.Errorf("upstream un-REGISTER Expires %v, want 0", exp)
	}
	forwarded := func() int {
		return len(e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "REGISTER forwarded" }))
	}
	waitFor(t, "2 forwarded REGISTERs in the log", 3*time.Second, func() bool { return forwarded() == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := forwarded(); n != 2 {
		t.Errorf("sbcd logged %d forwarded REGISTERs, want 2 (register, un-register)", n)
	}
}
