package metrics

import (
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

const ns = "openborder"

// Calls is what the signalling plane reports at scrape time.
type Calls interface {
	ActiveCalls() int
	Registrations() int
}

// Media is what the media plane reports at scrape time.
type Media interface {
	Metrics() rtpengine.Metrics
}

// Config wires a Registry to the planes.
type Config struct {
	Calls Calls
	Media Media
	// Version is reported in openborder_build_info.
	Version string
	// Window is the span of the per-trunk ASR/ACD/NER gauges. Default 15m.
	Window time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Registry holds every sbcd metric. It implements sbc.Observer.
type Registry struct {
	reg *prometheus.Registry
	now func() time.Time
	// gwTransitions counts gateway health changes (WatchGateways).
	gwTransitions *prometheus.CounterVec

	requests   *prometheus.CounterVec
	responses  *prometheus.CounterVec
	rejections *prometheus.CounterVec
	calls      *prometheus.CounterVec
	setup      prometheus.Histogram
	pdd        prometheus.Histogram
	duration   prometheus.Histogram
	mos        prometheus.Histogram
	jitter     prometheus.Histogram
	lossRatio  prometheus.Histogram
	attempts   *prometheus.CounterVec
	answered   *prometheus.CounterVec
	nerOK      *prometheus.CounterVec
	seconds    *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	reloadTime prometheus.Gauge
	config     *prometheus.GaugeVec

	trunks *trunkWindows
	totals totals
	// digits counts DTMF digits by method (dtmf.go).
	digits *prometheus.CounterVec

	mu       sync.RWMutex
	msgCache map[msgKey]prometheus.Counter
}

var _ sbc.Observer = (*Registry)(nil)

// New builds the registry and registers every collector.
func New(cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	r := &Registry{reg: prometheus.NewRegistry(), now: cfg.Now, msgCache: make(map[msgKey]prometheus.Counter)}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "sip", Name: "requests_total",
		Help: "SIP requests received (in) and sent (out) per realm and method."}, []string{"realm", "direction", "method"})
	r.responses = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "sip", Name: "responses_total",
		Help: "SIP responses received (in) and sent (out) per realm, method and status class."}, []string{"realm", "direction", "method", "class"})
	r.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "sip", Name: "rejections_total",
		Help: "Requests sbcd refused itself, per realm, method and reason."}, []string{"realm", "method", "reason"})
	r.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "calls_total",
		Help: "Ended calls per ingress realm and outcome (answered, busy, no_answer, cancelled, rejected, failed)."}, []string{"realm", "outcome"})
	r.setup = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "call_setup_seconds",
		Help: "Time from INVITE to answer of answered calls.", Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60}})
	r.pdd = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "post_dial_delay_seconds",
		Help: "Time from INVITE to the first ringing (18x) from the callee.", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 4, 8}})
	r.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "call_duration_seconds",
		Help: "Answered call durations.", Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}})
	r.mos = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "media", Name: "mos",
		Help: "Estimated MOS (ITU-T G.107) of ended calls with media, worse direction.", Buckets: []float64{1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4}})
	r.jitter = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "media", Name: "jitter_seconds",
		Help: "Interarrival jitter of ended calls' legs (RFC 3550).", Buckets: []float64{.001, .005, .01, .02, .05, .1, .2}})
	r.lossRatio = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: "media", Name: "loss_ratio",
		Help: "Packet loss ratio of ended calls' legs.", Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2}})
	r.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "trunk", Name: "attempts_total",
		Help: "Call attempts sent to a trunk."}, []string{"trunk"})
	r.answered = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "trunk", Name: "answered_total",
		Help: "Attempts a trunk answered (ASR = answered/attempts)."}, []string{"trunk"})
	r.nerOK = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "trunk", Name: "network_effective_total",
		Help: "Attempts that ended answered, busy, unanswered or declined: not a network failure (NER = this/attempts)."}, []string{"trunk"})
	r.seconds = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "trunk", Name: "answered_seconds_total",
		Help: "Answered call seconds on a trunk (ACD = this/answered)."}, []string{"trunk"})
	r.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: "config", Name: "reloads_total",
		Help: "Policy reloads by result (ok, failed)."}, []string{"result"})
	r.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "config", Name: "last_reload_timestamp_seconds",
		Help: "Unix time of the last successful policy load."})
	r.config = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: "config", Name: "info",
		Help: "The running policy: always 1, labelled with its hash."}, []string{"hash"})
	r.trunks = newTrunkWindows(cfg.Window, cfg.Now)

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "sbcd's version and Go version: always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(cfg.Version, runtime.Version()).Set(1)

	r.digits = newDigitCounter()
	r.reg.MustRegister(r.digits)
	r.reg.MustRegister(r.requests, r.responses, r.rejections, r.calls, r.setup, r.pdd, r.duration,
		r.mos, r.jitter, r.lossRatio, r.attempts, r.answered, r.nerOK, r.seconds,
		r.reloads, r.reloadTime, r.config, build, r.trunks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Calls != nil {
		r.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "active_calls",
				Help: "Calls and relayed transactions in progress."}, func() float64 { return float64(cfg.Calls.ActiveCalls()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "registrations",
				Help: "Live registered contacts."}, func() float64 { return float64(cfg.Calls.Registrations()) }))
	}
	if cfg.Media != nil {
		r.reg.MustRegister(newMediaCollector(cfg.Media))
		if cs, ok := cfg.Media.(Conferences); ok {
			r.reg.MustRegister(newConferenceCollector(cs))
		}
	}
	return r
}

// Handler serves the registry in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Gatherer gives access to the registry (tests, other exporters).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// ConfigLoaded records a successful (re)load of the policy with this hash.
func (r *Registry) ConfigLoaded(hash string, reload bool) {
	r.config.Reset()
	r.config.WithLabelValues(hash).Set(1)
	r.reloadTime.Set(float64(r.now().UnixNano()) / 1e9)
	if reload {
		r.reloads.WithLabelValues("ok").Inc()
	}
}

// ConfigReloadFailed records a refused reload.
func (r *Registry) ConfigReloadFailed() { r.reloads.WithLabelValues("failed").Inc() }

// methods are the method label values; anything else is "other", so a
// scanner cannot create series.
var methods = map[sip.RequestMethod]string{
	sip.INVITE: "INVITE", sip.ACK: "ACK", sip.CANCEL: "CANCEL", sip.BYE: "BYE", sip.REGISTER: "REGISTER",
	sip.OPTIONS: "OPTIONS", sip.SUBSCRIBE: "SUBSCRIBE", sip.NOTIFY: "NOTIFY", sip.REFER: "REFER",
	sip.INFO: "INFO", sip.MESSAGE: "MESSAGE", sip.PRACK: "PRACK", sip.UPDATE: "UPDATE", sip.PUBLISH: "PUBLISH",
}

func methodLabel(m sip.RequestMethod) string {
	if s, ok := methods[m]; ok {
		return s
	}
	return "other"
}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"}

func classLabel(code int) string {
	if code >= 100 && code < 700 {
		return classes[code/100-1]
	}
	return "other"
}

type msgKey struct {
	realm  string
	dir    sbc.Direction
	method string
	class  string // "" for requests
}

// Message counts one SIP message (sbc.Observer).
func (r *Registry) Message(ev sbc.MessageEvent) {
	k := msgKey{realm: ev.Realm, dir: ev.Dir}
	switch m := ev.Msg.(type) {
	case *sip.Request:
		k.method = methodLabel(m.Method)
	case *sip.Response:
		if cs := m.CSeq(); cs != nil {
			k.method = methodLabel(cs.MethodName)
		} else {
			k.method = "other"
		}
		k.class = classLabel(m.StatusCode)
	default:
		return
	}
	r.mu.RLock()
	c, ok := r.msgCache[k]
	r.mu.RUnlock()
	if !ok {
		if k.class == "" {
			c = r.requests.WithLabelValues(k.realm, k.dir.String(), k.method)
		} else {
			c = r.responses.WithLabelValues(k.realm, k.dir.String(), k.method, k.class)
		}
		r.mu.Lock()
		r.msgCache[k] = c
		r.mu.Unlock()
	}
	c.Inc()
}

// Rejected counts one of sbcd's own refusals (sbc.Observer).
func (r *Registry) Rejected(realm string, method sip.RequestMethod, reason string) {
	r.rejections.WithLabelValues(realm, methodLabel(method), reason).Inc()
	if reason == "cac_calls" || reason == "cac_rate" {
		r.totals.admission.Add(1)
	}
}

// AdmissionRefusals counts calls admission control refused (concurrent
// calls or call rate) since start: the load sbcd shed.
func (r *Registry) AdmissionRefusals() uint64 { return r.totals.admission.Load() }

// AttemptStarted does nothing: attempts are counted when calls end (sbc.Observer).
func (r *Registry) AttemptStarted(*sbc.CallRecord) {}

// CallAnswered does nothing: calls are counted when they end (sbc.Observer).
func (r *Registry) CallAnswered(*sbc.CallRecord) {}

// CallEnded records an ended call (sbc.Observer).
func (r *Registry) CallEnded(rec *sbc.CallRecord) {
	if rec.Method != string(sip.INVITE) {
		return
	}
	outcome := Outcome(rec)
	r.calls.WithLabelValues(rec.ARealm, outcome).Inc()
	r.totals.count(outcome, rec.Media.MOS)
	if !rec.Ringing.IsZero() {
		r.pdd.Observe(rec.Ringing.Sub(rec.Start).Seconds())
	}
	if !rec.Answered.IsZero() {
		r.setup.Observe(rec.Answered.Sub(rec.Start).Seconds())
		r.duration.Observe(rec.Duration().Seconds())
	}
	if rec.Media.MOS > 0 {
		r.mos.Observe(rec.Media.MOS)
	}
	for side := range 2 {
		in := rec.Media.RTPIn[side]
		if in == 0 {
			continue
		}
		r.jitter.Observe(rec.Media.Jitter[side].Seconds())
		lost := rec.Media.Lost[side]
		r.lossRatio.Observe(float64(lost) / float64(in+lost))
	}
	for i, at := range rec.Attempts {
		if at.Trunk == "" {
			continue
		}
		r.attempts.WithLabelValues(at.Trunk).Inc()
		var secs float64
		ans := at.Status >= 200 && at.Status < 300
		if ans {
			r.answered.WithLabelValues(at.Trunk).Inc()
			if i == len(rec.Attempts)-1 {
				secs = rec.Duration().Seconds()
				r.seconds.WithLabelValues(at.Trunk).Add(secs)
			}
		}
		ner := networkEffective(at.Status)
		if ner {
			r.nerOK.WithLabelValues(at.Trunk).Inc()
		}
		r.trunks.add(at.Trunk, ans, ner, secs)
	}
}

// Outcome classifies an ended call for openborder_calls_total.
func Outcome(rec *sbc.CallRecord) string {
	switch {
	case !rec.Answered.IsZero():
		return "answered"
	case rec.Cause == "cancelled":
		return "cancelled"
	case rec.Cause == "rejected":
		return "rejected"
	case rec.Status == 486 || rec.Status == 600:
		return "busy"
	case rec.Status == 408 || rec.Status == 480 || rec.Status == 487:
		return "no_answer"
	}
	return "failed"
}

// networkEffective tells whether an attempt's final status shows the
// network delivered the call (ITU-T E.425 NER): answered, busy, no answer,
// declined; not server failures, timeouts of the trunk or bad numbers
// reported as failures.
func networkEffective(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == 486, status == 600, status == 603, status == 480, status == 487, status == 404, status == 484:
		return true
	}
	return false
}

// totals are the call figures other exporters (SNMP) read cheaply.
type totals struct {
	attempts, answered, failed atomic.Uint64
	admission                  atomic.Uint64
	mosSum                     atomic.Uint64 // float64 bits
	mosN                       atomic.Uint64
}

func (t *totals) count(outcome string, mos float64) {
	t.attempts.Add(1)
	switch outcome {
	case "answered":
		t.answered.Add(1)
	case "cancelled", "busy", "no_answer":
	default:
		t.failed.Add(1)
	}
	if mos > 0 {
		for {
			old := t.mosSum.Load()
			if t.mosSum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+mos)) {
				break
			}
		}
		t.mosN.Add(1)
	}
}

// Totals are call counts since start: every ended INVITE, those
// answered, and those that failed or were refused (not cancelled, busy or
// unanswered); MeanMOS over calls with media (0: none yet).
type Totals struct {
	Attempts, Answered, Failed uint64
	MeanMOS                    float64
}

// Totals returns the call totals.
func (r *Registry) Totals() Totals {
	t := Totals{Attempts: r.totals.attempts.Load(), Answered: r.totals.answered.Load(), Failed: r.totals.failed.Load()}
	if n := r.totals.mosN.Load(); n > 0 {
		t.MeanMOS = math.Float64frombits(r.totals.mosSum.Load()) / float64(n)
	}
	return t
}

// TrunkASR is a trunk's answer-seizure ratio over the sliding window; ok
// is false when the window holds no attempt.
func (r *Registry) TrunkASR(trunk string) (asr float64, ok bool) {
	return r.trunks.asrOf(trunk)
}
