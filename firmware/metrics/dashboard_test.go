package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/sbc"
)

// The Grafana dashboard in configs/ may only use metrics sbcd exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	r := New(Config{Calls: fakeCalls{}, Media: fakeMedia{}})
	// One of everything, so every labelled family has a sample.
	now := time.Now()
	r.CallEnded(&sbc.CallRecord{Method: "INVITE", ARealm: "a", Start: now, Ringing: now, Answered: now, End: now, Status: 200,
		Attempts: []sbc.Attempt{{Trunk: "t", Status: 200}}, Media: sbc.MediaStats{RTPIn: [2]uint64{1, 1}, MOS: 4}})
	r.Rejected("a", "INVITE", "no_route")
	req := invite()
	r.Message(sbc.MessageEvent{Realm: "a", Msg: req})
	r.Message(sbc.MessageEvent{Realm: "a", Dir: sbc.Out, Msg: sip.NewResponseFromRequest(req, 200, "OK", nil)})
	r.ConfigReloadFailed()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			have[f.GetName()+s] = true
		}
	}
	name := regexp.MustCompile(`\b(openborder_[a-z0-9_]+|process_[a-z_]+|go_[a-z_]+)`)
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				used++
				if !have[m] && !strings.HasPrefix(m, "openborder_build_info") {
					t.Errorf("panel %q uses %s, which sbcd does not export", p.Title, m)
				}
			}
		}
	}
	if used < 20 {
		t.Fatalf("dashboard uses only %d metric references", used)
	}
}
