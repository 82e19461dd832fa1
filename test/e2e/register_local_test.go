package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// withRegisteredUsers makes access a registrar and routes calls from the
// core to its registered users.
func withRegisteredUsers(mod func(*policy.RealmConfig)) func(*policy.Config) {
	return func(c *policy.Config) {
		c.Realms[0].Registrar = true
		if mod != nil {
			mod(&c.Realms[0])
		}
		c.Routes = append(c.Routes, policy.RouteConfig{Name: "to-users", Match: policy.MatchConfig{SourceRealm: "core"}, Registered: "access"})
	}
}

// callUser calls user from the core side (a sipp UAC at gateway address 0)
// and has ph answer; it returns the INVITE the phone got.
func callUser(t *testing.T, e *env, ph *phone, name, user string) (*SippResult, string) {
	t.Helper()
	caller := StartSipp(t, SippOpts{Name: name, Scenario: "uac_basic.xml", LocalIP: e.topo.GatewayIP(0), LocalPort: GatewayPort,
		Remote: e.topo.CoreSIP(), Service: user, Timeout: 20 * time.Second, Dir: e.dir})
	inv := ph.answerCall(e.topo.CallerIP(0), CallerMediaPort, 5*time.Second)
	res := caller.Wait(t)
	wantExit0(t, res)
	return res, inv.String()
}

func TestRegisterLocalNATThenCall(t *testing.T) {
	t.Parallel()
	const net = 61
	e := newEnv(t, net, withRegisteredUsers(func(r *policy.RealmConfig) {
		r.Registration = policy.RegistrationConfig{KeepAlive: time.Second}
	}))
	ph := newPhone(t, "alice", fmt.Sprintf("%s:%d", e.topo.CallerIP(0), CallerPort), e.topo.AccessSIP())

	res := ph.register(120, "")
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	// RFC 3581: the answer went to the source port and says where the
	// request came from.
	via := res.Via()
	if rec, _ := via.Params.Get("received"); rec != e.topo.CallerIP(0) {
		t.Errorf("Via received=%q, want %s", rec, e.topo.CallerIP(0))
	}
	if rp, _ := via.Params.Get("rport"); rp != fmt.Sprint(CallerPort) {
		t.Errorf("Via rport=%q, want %d", rp, CallerPort)
	}
	ct := res.Contact()
	if ct == nil || !strings.Contains(ct.Value(), "192.168.77.20") {
		t.Fatalf("200 lists contact %v, want the registered one", ct)
	}
	if exp, _ := ct.Params.Get("expires"); exp != "120" && exp != "119" {
		t.Errorf("contact expires=%s, want 120", exp)
	}

	// Keep-alives reach the phone's NAT address every second.
	waitFor(t, "OPTIONS keep-alives", 5*time.Second, func() bool { return ph.options.Load() >= 2 })

	// A call from the core reaches the phone at the address its REGISTER
	// came from, with the registered contact as Request-URI.
	_, inv := callUser(t, e, ph, "caller", "alice")
	if !strings.HasPrefix(inv, "INVITE sip:alice@192.168.77.20:5062") {
		t.Errorf("INVITE Request-URI: %s", strings.SplitN(inv, "\r\n", 2)[0])
	}
	if !strings.Contains(inv, "Via: SIP/2.0/UDP "+e.topo.AccessIP()) {
		t.Errorf("INVITE to the phone does not come from the access realm:\n%s", inv)
	}
	for _, leak := range e.topo.CoreIdentifiers(1) {
		if strings.Contains(inv, leak) {
			t.Errorf("INVITE to the phone leaks %s", leak)
		}
	}

	// Un-REGISTER: the user is gone and calls get 404.
	if res := ph.register(0, ""); res.StatusCode != 200 || res.Contact() != nil {
		t.Fatalf("un-REGISTER: %d, contact %v", res.StatusCode, res.Contact())
	}
	caller := StartSipp(t, SippOpts{Name: "caller404", Scenario: "uac_reject_404.xml", LocalIP: e.topo.GatewayIP(0), LocalPort: GatewayPort,
		Remote: e.topo.CoreSIP(), Service: "alice", Timeout: 10 * time.Second, Dir: e.dir})
	wantExit0(t, caller.Wait(t))
}
