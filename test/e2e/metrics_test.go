package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// scrape reads /metrics into "name{labels}" -> value, labels sorted as
// Prometheus prints them.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %s", res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsAfterCalls(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	const net = 21
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	e := newEnv(t, net, func(c *policy.Config) { c.Admin.Address = admin })

	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := e.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.callEnded(cr)

	busy := e.callee("busy", "uas_reject_486.xml", 0, nil)
	bc := e.caller("caller-busy", "uac_reject_486.xml", 0, nil)
	br, bu := bc.Wait(t), busy.Wait(t)
	wantExit0(t, br, bu)
	e.callEnded(br)

	m := scrape(t, admin)
	exact := map[string]float64{
		`openborder_calls_total{outcome="answered",realm="access"}`:                                  1,
		`openborder_calls_total{outcome="busy",realm="access"}`:                                      1,
		`openborder_trunk_attempts_total{trunk="pbx"}`:                                               2,
		`openborder_trunk_answered_total{trunk="pbx"}`:                                               1,
		`openborder_trunk_network_effective_total{trunk="pbx"}`:                                      2,
		`openborder_trunk_asr_ratio{trunk="pbx"}`:                                                    0.5,
		`openborder_sip_requests_total{direction="in",method="INVITE",realm="access"}`:               2,
		`openborder_sip_requests_total{direction="out",method="INVITE",realm="core"}`:                2,
		`openborder_sip_responses_total{class="4xx",direction="out",method="INVITE",realm="access"}`: 1,
		`openborder_sip_responses_total{class="4xx",direction="in",method="INVITE",realm="core"}`:    1,
		`openborder_sip_responses_total{class="2xx",direction="out",method="BYE",realm="access"}`:    1,
		`openborder_active_calls`:                          0,
		`openborder_media_calls`:                           0,
		`openborder_media_port_pool_in_use{pool="access"}`: 0,
		`openborder_call_setup_seconds_count`:              1,
		`openborder_config_reloads_total{result="ok"}`:     0,
	}
	for k, want := range exact {
		got, ok := m[k]
		if k == `openborder_config_reloads_total{result="ok"}` {
			if ok {
				t.Errorf("%s present before any reload", k)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	for _, k := range []string{
		`openborder_media_packets_total{direction="in"}`, `openborder_media_packets_total{direction="out"}`,
		`openborder_media_bytes_total{direction="in"}`, `openborder_media_port_pool_capacity{pool="core"}`,
		`openborder_media_mos_count`, `process_resident_memory_bytes`, `go_goroutines`,
	} {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
	// No per-call values in any label: no Call-ID, address or number.
	for k := range m {
		for _, leak := range []string{"127.", "@", "call", "1000\""} {
			if strings.Contains(k, "{") && strings.Contains(k[strings.IndexByte(k, '{'):], leak) {
				t.Errorf("series %s carries a per-call value %q", k, leak)
			}
		}
	}
}
