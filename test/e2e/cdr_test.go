package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/openborder/openborder/cdr"
	"github.com/openborder/openborder/policy"
)

func withCDR(dir string) func(*policy.Config) {
	return func(c *policy.Config) {
		c.CDR = policy.CDRConfig{Dir: dir, Formats: []string{"csv", "jsonl"}}
	}
}

// readCDRs reads every record of a CDR file, failing on anything but a
// torn final line.
func readCDRs(t *testing.T, path string) []cdr.Record {
	t.Helper()
	res, err := cdr.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return res.Records
}

func TestCDRAfterAnsweredBusyAndCancelledCalls(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, 24, withCDR(dir))
	run := func(name, uac, uas string) string {
		callee := e.callee(name+"-callee", uas, 0, nil)
		caller := e.caller(name, uac, 0, nil)
		cr, er := caller.Wait(t), callee.Wait(t)
		wantExit0(t, cr, er)
		e.callEnded(cr)
		return initialInvites(cr, true)[0].CallID()
	}
	okID := run("ok", "uac_basic.xml", "uas_basic.xml")
	busyID := run("busy", "uac_reject_486.xml", "uas_reject_486.xml")
	cancelID := run("cancel", "uac_cancel.xml", "uas_cancel.xml")

	for _, file := range []string{"cdr.csv", "cdr.jsonl"} {
		recs := readCDRs(t, filepath.Join(dir, file))
		byCall := map[string]cdr.Record{}
		for _, r := range recs {
			byCall[r.ACallID] = r
		}
		if len(recs) != 3 {
			t.Fatalf("%s: %d records, want 3", file, len(recs))
		}
		ok := byCall[okID]
		if ok.Cause != cdr.CauseNormal || ok.SIPCode != 200 || ok.Side != cdr.SideCaller || ok.AnswerTime.IsZero() ||
			ok.Duration <= 0 || ok.Trunk != "pbx" || ok.Gateway != e.topo.Gateway(0) || ok.IngressRealm != "access" ||
			ok.EgressRealm != "core" || ok.Attempt != 1 || ok.BCallID == "" || ok.BCallID == okID || ok.ARURIUser == "" {
			t.Errorf("%s answered record: %+v", file, ok)
		}
		busy := byCall[busyID]
		if busy.Cause != cdr.CauseBusy || busy.SIPCode != 486 || busy.Side != cdr.SideCallee || !busy.AnswerTime.IsZero() {
			t.Errorf("%s busy record: %+v", file, busy)
		}
		can := byCall[cancelID]
		if can.Cause != cdr.CauseCancelled || can.SIPCode != 487 || can.Side != cdr.SideCaller {
			t.Errorf("%s cancelled record: %+v", file, can)
		}
	}
}

// Every call sbcd logged as ended before a kill -9 has its record on disk:
// the record is written (fsync) before the call is released and logged.
func TestCDRSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, 25, withCDR(dir))
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) {
		o.Calls, o.NoMessageTrace, o.Timeout = 0, true, 20*time.Second
	})
	caller := e.caller("caller", "uac_basic.xml", 0, func(o *SippOpts) {
		o.Calls, o.Rate, o.Limit, o.Duration, o.NoMessageTrace, o.Timeout = 2000, 100, 200, 100*time.Millisecond, true, 20*time.Second
	})
	ended := func() []LogLine { return e.sbcd.Find(func(l LogLine) bool { return l.Msg() == "call ended" }) }
	deadline := time.Now().Add(15 * time.Second)
	for len(ended()) < 150 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	e.sbcd.Kill() // SIGKILL mid-traffic
	logged := ended()
	caller.Stop(t)
	callee.Stop(t)
	if len(logged) < 150 {
		t.Fatalf("only %d calls ended before the kill", len(logged))
	}
	for _, file := range []string{"cdr.csv", "cdr.jsonl"} {
		res, err := cdr.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("%s after kill -9: %v", file, err)
		}
		have := map[string]bool{}
		for _, r := range res.Records {
			have[r.ACallID] = true
		}
		missing := 0
		for _, l := range logged {
			if !have[l.Str("call_id")] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d ended calls have no record after kill -9", file, missing, len(logged))
		}
		t.Logf("%s: %d records, %d calls logged as ended, torn tail %d bytes", file, len(res.Records), len(logged), res.Torn)
	}
}
