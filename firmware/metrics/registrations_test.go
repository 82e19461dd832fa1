package metrics

import (
	"testing"
	"time"

	"github.com/openborder/openborder/sbc"
)

func TestWatchOutbound(t *testing.T) {
	exp := time.Unix(1_800_000_000, 0)
	regs := []sbc.OutboundRegistration{
		{Trunk: "carrier", Realm: "core", State: sbc.RegRegistered, Registrations: 5, FailedAttempts: 2, Expires: exp},
		{Trunk: "backup", Realm: "core", State: sbc.RegFailed, Registrations: 0, FailedAttempts: 4, Failures: 4},
	}
	r := New(Config{})
	r.WatchOutbound(func() []sbc.OutboundRegistration { return regs })
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"registered state", "openborder_trunk_registration_state", map[string]string{"trunk": "carrier", "state": "registered"}, 1},
		{"not failed", "openborder_trunk_registration_state", map[string]string{"trunk": "carrier", "state": "failed"}, 0},
		{"failed state", "openborder_trunk_registration_state", map[string]string{"trunk": "backup", "state": "failed"}, 1},
		{"not registered", "openborder_trunk_registration_state", map[string]string{"trunk": "backup", "state": "registered"}, 0},
		{"successes", "openborder_trunk_registration_successes_total", map[string]string{"trunk": "carrier"}, 5},
		{"failures", "openborder_trunk_registration_failures_total", map[string]string{"trunk": "backup"}, 4},
		{"consecutive", "openborder_trunk_registration_consecutive_failures", map[string]string{"trunk": "backup"}, 4},
		{"expiry", "openborder_trunk_registration_expiry_timestamp_seconds", map[string]string{"trunk": "carrier"}, 1_800_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(t, r, tc.metric, tc.labels); got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
			}
		})
	}
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "openborder_trunk_registration_expiry_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "trunk" && lp.GetValue() == "backup" {
					t.Error("expiry exported for a trunk that is not registered")
				}
			}
		}
	}
}
