package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	dto "github.com/prometheus/client_model/go"

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

type fakeCalls struct{}

func (fakeCalls) ActiveCalls() int   { return 3 }
func (fakeCalls) Registrations() int { return 7 }

type fakeMedia struct{}

func (fakeMedia) Metrics() rtpengine.Metrics {
	return rtpengine.Metrics{Calls: 2, Streams: 4,
		Pools:   []rtpengine.PoolMetrics{{Name: "access", Capacity: 500, InUse: 2}},
		Traffic: rtpengine.Traffic{PacketsIn: 1000, PacketsOut: 990, Lost: 10, DTLSHandshakes: 1},
		Kernel: rtpengine.KernelMetrics{Mode: "on", Offloaded: 3, Packets: 600, Bytes: 103200, Offloads: 4, Failures: 1,
			SRTP: "on", SRTPOffloaded: 2, SRTPTakenBack: 1, SRTPRuns: 1000, SRTPRunNs: 2_500_000},
		Transcode: rtpengine.TranscodeStats{Latency: xcodeLatency, LatencySum: 2 * time.Second, FrameOverruns: 3}}
}

// xcodeLatency: 100 packets under 64 µs, 7 under
// 32.8 ms (bucket 15), 3 in the open last bucket.
var xcodeLatency = func() (h [22]uint64) {
	h[6], h[15], h[21] = 100, 7, 3
	return h
}()

// value finds one sample by metric name and label values.
func value(t *testing.T, r *Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return sampleValue(f.GetType(), m)
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

func sampleValue(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func invite() *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "1000", Host: "example.com"})
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	return req
}

func TestSignallingCounters(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := New(Config{Calls: fakeCalls{}, Media: fakeMedia{}, Version: "test", Now: func() time.Time { return now }})
	req := invite()
	r.Message(sbc.MessageEvent{Realm: "access", Dir: sbc.In, Msg: req})
	r.Message(sbc.MessageEvent{Realm: "access", Dir: sbc.In, Msg: req})
	r.Message(sbc.MessageEvent{Realm: "access", Dir: sbc.Out, Msg: sip.NewResponseFromRequest(req, 486, "Busy", nil)})
	weird := sip.NewRequest(sip.RequestMethod("XSCAN"), sip.Uri{Host: "x"})
	r.Message(sbc.MessageEvent{Realm: "access", Dir: sbc.In, Msg: weird})
	r.Rejected("access", sip.INVITE, "no_route")

	if v := value(t, r, "openborder_sip_requests_total", map[string]string{"realm": "access", "direction": "in", "method": "INVITE"}); v != 2 {
		t.Errorf("INVITE in = %v, want 2", v)
	}
	if v := value(t, r, "openborder_sip_requests_total", map[string]string{"method": "other"}); v != 1 {
		t.Errorf("unknown method not folded into other: %v", v)
	}
	if v := value(t, r, "openborder_sip_responses_total", map[string]string{"direction": "out", "method": "INVITE", "class": "4xx"}); v != 1 {
		t.Errorf("486 out = %v", v)
	}
	if v := value(t, r, "openborder_sip_rejections_total", map[string]string{"reason": "no_route"}); v != 1 {
		t.Errorf("rejections = %v", v)
	}
	if v := value(t, r, "openborder_active_calls", nil); v != 3 {
		t.Errorf("active calls = %v", v)
	}
	if v := value(t, r, "openborder_media_packets_total", map[string]string{"direction": "in"}); v != 1000 {
		t.Errorf("media packets in = %v", v)
	}
	if v := value(t, r, "openborder_media_port_pool_in_use", map[string]string{"pool": "access"}); v != 2 {
		t.Errorf("pool in use = %v", v)
	}
	for name, want := range map[string]float64{"openborder_media_kernel_streams": 3, "openborder_media_kernel_packets_total": 600,
		"openborder_media_kernel_bytes_total": 103200, "openborder_media_kernel_offloads_total": 4,
		"openborder_media_kernel_offload_failures_total": 1, "openborder_media_kernel_srtp": 1, "openborder_media_kernel_srtp_streams": 2,
		"openborder_media_kernel_srtp_taken_back_total": 1, "openborder_media_kernel_srtp_program_runs_total": 1000,
		"openborder_media_kernel_srtp_program_seconds_total": 0.0025} {
		if v := value(t, r, name, nil); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	for mode, want := range map[string]float64{"on": 1, "off": 0, "fallback": 0} {
		if v := value(t, r, "openborder_media_kernel_forwarding_mode", map[string]string{"mode": mode}); v != want {
			t.Errorf("kernel mode %s = %v, want %v", mode, v, want)
		}
	}
	if v := value(t, r, "openborder_media_transcode_frame_overruns_total", nil); v != 3 {
		t.Errorf("transcode frame overruns = %v", v)
	}
	h := histogram(t, r, "openborder_media_transcode_processing_seconds")
	if h.GetSampleCount() != 110 || h.GetSampleSum() != 2 {
		t.Errorf("processing time: %d samples, sum %v; want 110, 2", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := map[float64]uint64{64e-6: 100, 32e-6: 0, 0.016384: 100, 0.032768: 107, 1.048576: 107}
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}

func histogram(t *testing.T, r *Registry, name string) *dto.Histogram {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no histogram %s", name)
	return nil
}

func TestCallOutcomesAndTrunkRatios(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := New(Config{Now: func() time.Time { return now }, Window: 15 * time.Minute})
	start := now.Add(-time.Minute)
	// Answered on the second gateway after a 503 on the first: 60 s long.
	r.CallEnded(&sbc.CallRecord{Method: "INVITE", ARealm: "access", Start: start, Ringing: start.Add(200 * time.Millisecond),
		Answered: start.Add(time.Second), End: start.Add(61 * time.Second), Cause: "caller_bye", Status: 200,
		Attempts: []sbc.Attempt{{Trunk: "pbx", Status: 503}, {Trunk: "pbx", Status: 200}},
		Media:    sbc.MediaStats{RTPIn: [2]uint64{990, 1000}, Lost: [2]uint64{10, 0}, MOS: 4.3}})
	r.CallEnded(&sbc.CallRecord{Method: "INVITE", ARealm: "access", Start: start, End: now, Cause: "failed", Status: 486,
		Attempts: []sbc.Attempt{{Trunk: "pbx", Status: 486}}})
	r.CallEnded(&sbc.CallRecord{Method: "INVITE", ARealm: "access", Start: start, End: now, Cause: "rejected", Reason: "no_route", Status: 404})
	r.CallEnded(&sbc.CallRecord{Method: "MESSAGE", ARealm: "access", Cause: "completed", Status: 200})

	for outcome, want := range map[string]float64{"answered": 1, "busy": 1, "rejected": 1} {
		if v := value(t, r, "openborder_calls_total", map[string]string{"outcome": outcome}); v != want {
			t.Errorf("calls %s = %v, want %v", outcome, v, want)
		}
	}
	if v := value(t, r, "openborder_trunk_attempts_total", map[string]string{"trunk": "pbx"}); v != 3 {
		t.Errorf("attempts = %v", v)
	}
	// ASR 1/3, NER 2/3 (the 503 is a network failure), ACD 60 s.
	if v := value(t, r, "openborder_trunk_asr_ratio", map[string]string{"trunk": "pbx"}); v < 0.333 || v > 0.334 {
		t.Errorf("ASR = %v", v)
	}
	if v := value(t, r, "openborder_trunk_ner_ratio", map[string]string{"trunk": "pbx"}); v < 0.666 || v > 0.667 {
		t.Errorf("NER = %v", v)
	}
	if v := value(t, r, "openborder_trunk_acd_seconds", map[string]string{"trunk": "pbx"}); v != 60 {
		t.Errorf("ACD = %v", v)
	}
	if v := value(t, r, "openborder_call_setup_seconds", nil); v != 1 {
		t.Errorf("setup samples = %v", v)
	}
	if v := value(t, r, "openborder_media_mos", nil); v != 1 {
		t.Errorf("mos samples = %v", v)
	}
	tot := r.Totals()
	if tot.Attempts != 3 || tot.Answered != 1 || tot.Failed != 1 || tot.MeanMOS != 4.3 {
		t.Errorf("totals %+v", tot)
	}
	if asr, ok := r.TrunkASR("pbx"); !ok || asr < 0.333 || asr > 0.334 {
		t.Errorf("TrunkASR = %v %v", asr, ok)
	}
	// The window slides: 16 minutes later the ratios are gone.
	now = now.Add(16 * time.Minute)
	if v := value(t, r, "openborder_trunk_window_attempts", map[string]string{"trunk": "pbx"}); v != 0 {
		t.Errorf("window attempts after it slid = %v", v)
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	r := New(Config{Version: "1.2.3"})
	r.ConfigLoaded("abc123", false)
	r.ConfigReloadFailed()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`openborder_build_info{goversion="go`, `version="1.2.3"} 1`,
		`openborder_config_info{hash="abc123"} 1`,
		`openborder_config_reloads_total{result="failed"} 1`,
		"go_goroutines ", "process_open_fds ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
