package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/testenv"
)

// TestRADIUSAccountingFromSbcd: an answered call through sbcd reaches a
// real FreeRADIUS as one Start (at answer) and one Stop (at the end) with
// the same session, the dialled number, the duration and the cause.
func TestRADIUSAccountingFromSbcd(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, "sbcd-e2e-secret")
	e := newEnv(t, 76, func(c *policy.Config) {
		c.CDR.Dir = t.TempDir()
		c.CDR.RADIUS.Servers = []policy.RADIUSServerConfig{{Address: fr.Addr, Secret: fr.Secret}}
		c.CDR.RADIUS.NASIdentifier = "sbcd-e2e"
		c.CDR.RADIUS.SpoolDir = t.TempDir()
	})
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) {
		o.Service = "4930123456"
		o.Duration = 1500 * time.Millisecond
	})
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)

	var blocks []string
	deadline := time.Now().Add(10 * time.Second)
	for blocks = fr.DetailBlocks(); len(blocks) < 2 && time.Now().Before(deadline); blocks = fr.DetailBlocks() {
		time.Sleep(50 * time.Millisecond)
	}
	if len(blocks) != 2 {
		t.Fatalf("FreeRADIUS got %d accounting requests, want Start and Stop:\n%s", len(blocks), strings.Join(blocks, "\n\n"))
	}
	session := regexp.MustCompile(`Acct-Session-Id = "([^"]+)"`)
	var ids []string
	for i, want := range [][]string{
		{"Acct-Status-Type = Start", `Called-Station-Id = "4930123456"`, `NAS-Identifier = "sbcd-e2e"`},
		{"Acct-Status-Type = Stop", "Acct-Terminate-Cause = User-Request", `Called-Station-Id = "4930123456"`},
	} {
		for _, w := range want {
			if !strings.Contains(blocks[i], w) {
				t.Errorf("accounting request %d lacks %q:\n%s", i+1, w, blocks[i])
			}
		}
		if m := session.FindStringSubmatch(blocks[i]); m != nil {
			ids = append(ids, m[1])
		}
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("Start and Stop sessions %v, want one session id in both", ids)
	}
	st := regexp.MustCompile(`Acct-Session-Time = (\d+)`).FindStringSubmatch(blocks[1])
	if st == nil || (st[1] != "1" && st[1] != "2") {
		t.Errorf("Stop Acct-Session-Time %v, want the call's 1-2 s", st)
	}
}
