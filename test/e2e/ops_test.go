package e2e

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

func TestReloadGoodPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 18, nil)
	old := e.callee("gw1", "uas_basic.xml", 0, nil)
	long := e.caller("caller-long", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = 5 * time.Second })
	time.Sleep(1500 * time.Millisecond) // the long call is up

	// new policy: user "new" goes to trunk pbx2 (gateway 2); the rest as before
	cfg := e.topo.Config()
	cfg.Trunks = append(cfg.Trunks, policy.TrunkConfig{Name: "pbx2", Realm: "core",
		Gateways: []policy.GatewayConfig{{Address: e.topo.Gateway(1), Transport: "udp", Priority: 1}}})
	cfg.Routes = append([]policy.RouteConfig{{Name: "new-route",
		Match:  policy.MatchConfig{SourceRealm: "access", RURIUser: policy.StringMatch{Exact: "new"}},
		Trunks: []string{"pbx2"}}}, cfg.Routes...)
	if err := WriteConfig(e.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.sbcd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l, err := e.sbcd.WaitMsg("policy reloaded", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if l.Str("hash") == "" {
		t.Errorf("policy reloaded without a hash: %v", l)
	}

	gw2 := e.callee("gw2", "uas_basic.xml", 1, nil)
	fresh := e.caller("caller-new", "uac_basic.xml", 1, func(o *SippOpts) {
		o.Service, o.Duration = "new", 300*time.Millisecond
	})
	fr, r2 := fresh.Wait(t), gw2.Wait(t)
	lr, r1 := long.Wait(t), old.Wait(t)
	wantExit0(t, fr, r2, lr, r1)
	e.checkLeaks([]*SippResult{fr, lr}, []*SippResult{r1, r2})
	if n := len(initialInvites(r2, false)); n != 1 {
		t.Errorf("gateway 2 got %d INVITEs after the reload, want 1", n)
	}
	wantAttrs(t, e.callEnded(fr), map[string]string{"route": "new-route", "status": "200"})
	wantAttrs(t, e.callEnded(lr), map[string]string{"route": "access-to-pbx", "cause": "caller_bye"})
}

func TestReloadBadPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 19, nil)
	if err := os.WriteFile(e.cfgPath, []byte("realms: [\nnot_a_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.sbcd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l, err := e.sbcd.WaitMsg("policy reload failed", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if l.Str("err") == "" {
		t.Errorf("reload failure without err: %v", l)
	}
	if n := len(e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "policy reloaded" })); n != 0 {
		t.Errorf("bad file reported as reloaded")
	}
	// the old policy keeps working
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = 300 * time.Millisecond })
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	wantAttrs(t, e.callEnded(cr), map[string]string{"route": "access-to-pbx", "status": "200"})
}

func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	const drain = 3 * time.Second
	e := newEnv(t, 20, func(c *policy.Config) { c.SIP.DrainTimeout = drain })
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_callee_bye.xml", 0, nil)
	time.Sleep(1500 * time.Millisecond) // the call is up

	sent := time.Now()
	if err := e.sbcd.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sbcd.WaitMsg("draining", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	late := e.caller("caller-late", "uac_reject_503.xml", 1, nil)
	lr := late.Wait(t)
	wantExit0(t, lr)
	if r := lr.Responses(false, 503, "INVITE"); len(r) == 0 || r[0].Header("Retry-After") == "" {
		t.Errorf("new INVITE while draining: want 503 with Retry-After\n%s", lr.Report())
	}

	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr, lr}, []*SippResult{er})
	for _, r := range []*SippResult{cr, er} {
		bye := r.Requests(false, "BYE")
		if len(bye) == 0 {
			t.Errorf("%s got no BYE at the drain deadline", r.Name)
			continue
		}
		if at := bye[0].Time.Sub(sent); at < drain-500*time.Millisecond || at > drain+3*time.Second {
			t.Errorf("%s got BYE %v after SIGTERM, want about %v", r.Name, at, drain)
		}
	}
	wantAttrs(t, e.callEnded(cr), map[string]string{"cause": "drain"})
	code, err := e.sbcd.Wait(drain + 5*time.Second)
	if err != nil || code != 0 {
		t.Errorf("sbcd exit %d (%v), want 0", code, err)
	}
}
