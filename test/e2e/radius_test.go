package e2e

import (
	"regexp"
	"strconv"
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

// TestRADIUSInterimUpdateFromSbcd: with radius.interim_interval 1s, a call
// held about 3 s reaches FreeRADIUS as Start, at least one Interim-Update
// with a growing session time, and Stop, all with one session id.
func TestRADIUSInterimUpdateFromSbcd(t *testing.T) {
	t.Parallel()
	fr := testenv.StartFreeRADIUS(t, "sbcd-e2e-interim")
	e := newEnv(t, 101, func(c *policy.Config) {
		c.CDR.Dir = t.TempDir()
		c.CDR.RADIUS.Servers = []policy.RADIUSServerConfig{{Address: fr.Addr, Secret: fr.Secret}}
		c.CDR.RADIUS.SpoolDir = t.TempDir()
		c.CDR.RADIUS.InterimInterval = time.Second
	})
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) { o.Duration = 3 * time.Second })
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)

	var blocks []string
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		blocks = fr.DetailBlocks()
		if n := len(blocks); n > 0 && strings.Contains(blocks[n-1], "Acct-Status-Type = Stop") {
			break
		}
	}
	if len(blocks) < 3 {
		t.Fatalf("FreeRADIUS got %d accounting requests, want Start, Interim-Update(s), Stop:\n%s", len(blocks), strings.Join(blocks, "\n\n"))
	}
	session := regexp.MustCompile(`Acct-Session-Id = "([^"]+)"`)
	stime := regexp.MustCompile(`Acct-Session-Time = (\d+)`)
	ids := map[string]bool{}
	interims, last := 0, -1
	for i, b := range blocks {
		if m := session.FindStringSubmatch(b); m != nil {
			ids[m[1]] = true
		}
		switch {
		case i == 0:
			if !strings.Contains(b, "Acct-Status-Type = Start") {
				t.Fatalf("first request is not Start:\n%s", b)
			}
		case i == len(blocks)-1:
			if !strings.Contains(b, "Acct-Status-Type = Stop") {
				t.Fatalf("last request is not Stop:\n%s", b)
			}
		default:
			if !strings.Contains(b, "Acct-Status-Type = Interim-Update") {
				t.Fatalf("request %d is not an Interim-Update:\n%s", i+1, b)
			}
			interims++
			m := stime.FindStringSubmatch(b)
			if m == nil {
				t.Fatalf("Interim-Update without Acct-Session-Time:\n%s", b)
			}
			n, _ := strconv.Atoi(m[1])
			if n < last || n > 4 {
				t.Errorf("Interim-Update %d session time %d after %d, want non-decreasing within the 3 s call", interims, n, last)
			}
			last = n
		}
	}
	if interims < 1 || interims > 4 {
		t.Errorf("%d Interim-Updates for a 3 s call at a 1 s interval, want 1-4", interims)
	}
	if len(ids) != 1 {
		t.Errorf("session ids %v, want one for Start, Interim-Update and Stop", ids)
	}
}
