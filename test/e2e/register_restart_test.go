package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestRegisterBindingsSurviveRestart: a phone registers, sbcd is killed
// (SIGKILL: no chance to save on the way out) and started again; the
// binding is back and a call from the core reaches the phone.
func TestRegisterBindingsSurviveRestart(t *testing.T) {
	t.Parallel()
	const net = 64
	topo := Topology{Net: net}
	e := newEnv(t, net, func(c *policy.Config) {
		withRegisteredUsers(func(r *policy.RealmConfig) {
			r.Registration.KeepAlive = -time.Second
		})(c)
		c.StateDir = "state" // relative to the policy file
	})
	snapshot := filepath.Join(e.dir, "state", "bindings.json")
	ph := newPhone(t, "alice", fmt.Sprintf("%s:%d", topo.CallerIP(0), CallerPort), topo.AccessSIP())
	if res := ph.register(300, ""); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	waitFor(t, "the bindings snapshot", 3*time.Second, func() bool {
		b, err := os.ReadFile(snapshot)
		return err == nil && strings.Contains(string(b), "192.168.77.20")
	})

	if err := e.sbcd.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sbcd.Wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.sbcd = StartSbcd(t, needSbcd(t), e.cfgPath)
	l, err := e.sbcd.WaitMsg("bindings restored", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Int("bindings"); n != 1 {
		t.Fatalf("restored %d bindings, want 1", n)
	}

	_, inv := callUser(t, e, ph, "caller", "alice")
	if !strings.HasPrefix(inv, "INVITE sip:alice@192.168.77.20:5062") {
		t.Errorf("INVITE Request-URI after restart: %s", strings.SplitN(inv, "\r\n", 2)[0])
	}
}
