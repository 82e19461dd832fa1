package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/firmware/capture"
	"github.com/openborder/openborder/policy"
)

// The capture counters reach the metrics: a flood of media packets into a
// one-record queue is accepted or dropped, never waited for, and every
// record is counted under one outcome.
func TestCaptureCollectorCountsDrops(t *testing.T) {
	cp, err := capture.New(capture.Config{Dir: t.TempDir(), QueueLen: 1, RingOff: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Start(context.Background(), capture.AddrFilter(netip.MustParsePrefix("127.0.0.10/32")), capture.Limits{}); err != nil {
		t.Fatal(err)
	}
	s := &captureSink{cap: cp, tap: cp.Tap()}
	local, remote := netip.MustParseAddrPort("127.0.0.1:20000"), netip.MustParseAddrPort("127.0.0.10:40000")
	pkt := make([]byte, 172)
	pkt[0] = 0x80
	const flood = 20000
	start := time.Now()
	for range flood {
		s.MediaPacket("c1", true, false, local, remote, pkt)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d packets took %v", flood, d)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	st := cp.Stats()
	if st.Accepted+st.Dropped != flood || st.Written != st.Accepted {
		t.Fatalf("stats %+v: want accepted+dropped = %d, all accepted written", st, flood)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(captureCollector{s})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "openborder_capture_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"accepted": float64(st.Accepted), "dropped": float64(st.Dropped), "written": float64(st.Written), "invalid": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("openborder_capture_records_total{outcome=%q} = %v, want %v", k, got[k], v)
		}
	}
	t.Logf("accepted %d, dropped %d of %d", st.Accepted, st.Dropped, flood)
}

// Capture rules: each rule has a running capture; a reload keeps the
// capture of an unchanged rule, stops removed ones and starts new ones;
// an ended capture is replaced.
func TestCaptureRulesApply(t *testing.T) {
	cp, err := capture.New(capture.Config{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	s := &captureSink{cap: cp, tap: cp.Tap()}
	r := startCaptureRules(s, []policy.CaptureRule{{Filter: "trunk:a"}}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer r.Close()
	running := func() map[string]string {
		list, err := cp.List()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, i := range list {
			if i.Running {
				out[i.Filter] = i.ID
			}
		}
		return out
	}
	first := running()
	if len(first) != 1 || first["trunk:a"] == "" {
		t.Fatalf("running %v, want trunk:a", first)
	}
	r.apply([]policy.CaptureRule{{Filter: "trunk:a"}, {Filter: "realm:b", Duration: time.Minute}})
	second := running()
	if len(second) != 2 || second["trunk:a"] != first["trunk:a"] || second["realm:b"] == "" {
		t.Fatalf("after adding a rule: %v, want trunk:a kept (%s) and realm:b", second, first["trunk:a"])
	}
	r.apply([]policy.CaptureRule{{Filter: "realm:b", Duration: time.Minute}})
	third := running()
	if len(third) != 1 || third["realm:b"] != second["realm:b"] {
		t.Fatalf("after removing trunk:a: %v", third)
	}
	if _, err := cp.Stop(context.Background(), third["realm:b"]); err != nil {
		t.Fatal(err)
	}
	r.renew()
	if fourth := running(); fourth["realm:b"] == "" || fourth["realm:b"] == third["realm:b"] {
		t.Fatalf("stopped rule capture not replaced: %v", fourth)
	}
}
