package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// buckets per window: the window slides in steps of window/buckets.
const buckets = 15

type trunkBucket struct {
	slot               int64 // time slot this bucket holds
	attempts, answered uint64
	networkOK          uint64
	seconds            float64
}

// trunkWindows keeps per-trunk attempt outcomes over a sliding window and
// reports ASR, NER and ACD gauges computed from it at scrape time.
type trunkWindows struct {
	step time.Duration
	now  func() time.Time

	mu     sync.Mutex
	trunks map[string]*[buckets]trunkBucket

	asr, ner, acd, n *prometheus.Desc
}

func newTrunkWindows(window time.Duration, now func() time.Time) *trunkWindows {
	step := window / buckets
	if step <= 0 {
		step = time.Second
	}
	label := []string{"trunk"}
	return &trunkWindows{
		step: step, now: now, trunks: make(map[string]*[buckets]trunkBucket),
		asr: prometheus.NewDesc(ns+"_trunk_asr_ratio", "Answer-seizure ratio of the trunk over the sliding window.", label, nil),
		ner: prometheus.NewDesc(ns+"_trunk_ner_ratio", "Network effectiveness ratio (ITU-T E.425) of the trunk over the sliding window.", label, nil),
		acd: prometheus.NewDesc(ns+"_trunk_acd_seconds", "Average call duration of the trunk's answered calls over the sliding window.", label, nil),
		n:   prometheus.NewDesc(ns+"_trunk_window_attempts", "Attempts in the sliding window the ratios are computed from.", label, nil),
	}
}

func (w *trunkWindows) slot() int64 { return w.now().UnixNano() / int64(w.step) }

func (w *trunkWindows) add(trunk string, answered, networkOK bool, secs float64) {
	s := w.slot()
	w.mu.Lock()
	defer w.mu.Unlock()
	ring, ok := w.trunks[trunk]
	if !ok {
		ring = new([buckets]trunkBucket)
		w.trunks[trunk] = ring
	}
	b := &ring[s%buckets]
	if b.slot != s {
		*b = trunkBucket{slot: s}
	}
	b.attempts++
	if answered {
		b.answered++
		b.seconds += secs
	}
	if networkOK {
		b.networkOK++
	}
}

func (w *trunkWindows) Describe(ch chan<- *prometheus.Desc) {
	ch <- w.asr
	ch <- w.ner
	ch <- w.acd
	ch <- w.n
}

func (w *trunkWindows) Collect(ch chan<- prometheus.Metric) {
	s := w.slot()
	w.mu.Lock()
	names := make([]string, 0, len(w.trunks))
	for name := range w.trunks {
		names = append(names, name)
	}
	sort.Strings(names)
	type sum struct {
		attempts, answered, ok uint64
		secs                   float64
	}
	sums := make([]sum, len(names))
	for i, name := range names {
		for _, b := range w.trunks[name] {
			if b.slot > s-buckets && b.slot <= s {
				sums[i].attempts += b.attempts
				sums[i].answered += b.answered
				sums[i].ok += b.networkOK
				sums[i].secs += b.seconds
			}
		}
	}
	w.mu.Unlock()
	for i, name := range names {
		t := sums[i]
		ch <- prometheus.MustNewConstMetric(w.n, prometheus.GaugeValue, float64(t.attempts), name)
		if t.attempts > 0 {
			ch <- prometheus.MustNewConstMetric(w.asr, prometheus.GaugeValue, float64(t.answered)/float64(t.attempts), name)
			ch <- prometheus.MustNewConstMetric(w.ner, prometheus.GaugeValue, float64(t.ok)/float64(t.attempts), name)
		}
		if t.answered > 0 {
			ch <- prometheus.MustNewConstMetric(w.acd, prometheus.GaugeValue, t.secs/float64(t.answered), name)
		}
	}
}

func (w *trunkWindows) asrOf(trunk string) (float64, bool) {
	s := w.slot()
	w.mu.Lock()
	defer w.mu.Unlock()
	ring, ok := w.trunks[trunk]
	if !ok {
		return 0, false
	}
	var attempts, answered uint64
	for _, b := range ring {
		if b.slot > s-buckets && b.slot <= s {
			attempts += b.attempts
			answered += b.answered
		}
	}
	if attempts == 0 {
		return 0, false
	}
	return float64(answered) / float64(attempts), true
}
