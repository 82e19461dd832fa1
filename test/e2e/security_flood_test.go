package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// scrapeFamily returns the samples of one metric family from /metrics, keyed by
// their label text.
func scrapeFamily(t *testing.T, addr, family string) map[string]float64 {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, family) {
			continue
		}
		name, val, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		out[strings.TrimPrefix(name, family)] = v
	}
	return out
}

// TestSecurityInviteFlood floods the access realm with INVITEs from one
// source while another source places calls and a call set up before the
// flood stays up: the flood is cut to the per-source budget, then the
// source is blacklisted; every legitimate call succeeds.
func TestSecurityInviteFlood(t *testing.T) {
	t.Parallel()
	const net = 33
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin.Address = admin
		c.Realms[0].Security.RateLimit.Source = policy.RateLimitConfig{Calls: 100, InDialog: 400, Burst: 2}
	})
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) {
		o.Calls = 100000
		o.Timeout = 25 * time.Second
		o.NoMessageTrace = true
	})
	// An established call that must outlive the flood.
	held := e.caller("held", "uac_basic.xml", 2, func(o *SippOpts) {
		o.Duration = 6 * time.Second
		o.Timeout = 15 * time.Second
	})
	time.Sleep(500 * time.Millisecond)

	// FLOOD_RATE and FLOOD_CALLS scale the flood for measurements
	// (docs/benchmarks.md); the defaults keep the test short.
	floodRate, floodCalls := envInt("FLOOD_RATE", 1000), envInt("FLOOD_CALLS", 3000)
	floodStart := time.Now()
	flood := e.caller("flood", "uac_basic.xml", 1, func(o *SippOpts) {
		o.Rate = float64(floodRate)
		o.Calls = floodCalls
		o.Limit = floodCalls
		o.Duration = 100 * time.Millisecond
		o.Timeout = time.Duration(floodCalls/floodRate+5) * time.Second
		o.NoMessageTrace = true
	})
	legit := e.caller("legit", "uac_load.xml", 0, func(o *SippOpts) {
		o.Rate = 50
		o.Calls = 200
		o.Duration = 200 * time.Millisecond
		o.Timeout = 15 * time.Second
		o.NoMessageTrace = true
	})
	lr := legit.Wait(t)
	fr := flood.Stop(t)
	floodTime := time.Since(floodStart)
	hr := held.Wait(t)
	_ = callee.Stop(t)

	if len(lr.Stats) == 0 {
		t.Fatalf("legitimate caller wrote no statistics:\n%s", lr.Report())
	}
	last := lr.Stats[len(lr.Stats)-1]
	ok, _ := last.Int("SuccessfulCall(C)")
	failed, _ := last.Int("FailedCall(C)")
	t.Logf("legitimate calls: %d successful, %d failed", ok, failed)
	if ok < 200 || failed != 0 {
		t.Errorf("legitimate calls during the flood: %d successful, %d failed (want 200, 0)\n%s", ok, failed, lr.Report())
	}
	if hr.ExitCode != 0 {
		t.Errorf("the established call did not survive the flood:\n%s", hr.Report())
	}
	var floodOK int64
	if len(fr.Stats) > 0 {
		floodOK, _ = fr.Stats[len(fr.Stats)-1].Int("SuccessfulCall(C)")
	}
	refused := scrapeFamily(t, admin, "openborder_security_refused_total")
	blocked := scrapeFamily(t, admin, "openborder_blacklist_added_total")
	var seen []string
	total := 0.0
	for k, v := range refused {
		if v > 0 {
			seen = append(seen, fmt.Sprintf("%s=%g", k, v))
			total += v
		}
	}
	t.Logf("flood: sipp at %d INVITE/s for %s, %d calls completed; %g packets refused (%.0f/s): %v; blacklisted for rate: %g",
		floodRate, floodTime.Round(100*time.Millisecond), floodOK, total, total/floodTime.Seconds(), seen, blocked[`{reason="rate_exceeded"}`])
	if refused[`{reason="source",stage="ratelimit"}`] == 0 {
		t.Error("no INVITE of the flood was refused by the per-source limit")
	}
	if blocked[`{reason="rate_exceeded"}`] != 1 || refused[`{reason="blocked",stage="blacklist"}`] == 0 {
		t.Error("the flooding source was not blacklisted")
	}
	// 100 calls/s with a 2 s burst until the block: far
	// fewer than the flood's thousands.
	if floodOK > 400 {
		t.Errorf("%d flood calls got through the per-source limit of 100/s", floodOK)
	}
}

// envInt reads a positive integer from the environment, else def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
