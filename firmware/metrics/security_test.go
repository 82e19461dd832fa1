package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openborder/openborder/sbc/guard"
)

type fakeGuard struct{}

func (fakeGuard) Stats() []guard.Count {
	return []guard.Count{{Stage: "sanity", Reason: "too_large", N: 3}, {Stage: "scanner", Reason: "user_agent", N: 1}}
}
func (fakeGuard) Blocks() map[string]uint64 { return map[string]uint64{"user_agent": 1} }
func (fakeGuard) BlacklistSize() int        { return 1 }
func (fakeGuard) EmergencyPassed() uint64   { return 2 }

func TestWatchGuard(t *testing.T) {
	r := New(Config{})
	r.WatchGuard(fakeGuard{})
	f := r.WatchFraud()
	f.Blocked("international", "calls_per_hour")
	f.Blocked("international", "calls_per_hour")
	var none *FraudBlocks
	none.Blocked("x", "y")
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`openborder_security_refused_total{reason="too_large",stage="sanity"} 3`,
		`openborder_security_refused_total{reason="user_agent",stage="scanner"} 1`,
		`openborder_blacklist_added_total{reason="user_agent"} 1`,
		`openborder_blacklist_entries 1`,
		`openborder_security_emergency_passed_total 2`,
		`openborder_fraud_blocks_total{limit="calls_per_hour",rule="international"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %s", want)
		}
	}
}
