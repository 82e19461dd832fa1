package health

import (
	"sync"
	"time"

	"github.com/openborder/openborder/policy"
)

// MaxSamples bounds the attempts a Quality keeps per trunk; the oldest go first.
const MaxSamples = 4096

// Sample is one call attempt over a trunk.
type Sample struct {
	At       time.Time
	Answered bool
	// MOS of an answered call's media (0: unknown).
	MOS float64
	// PDD is INVITE to first ringing or answer (0: neither happened).
	PDD time.Duration
}

// Quality keeps recent call attempts per trunk and judges trunks against
// a route's thresholds with hysteresis. It is safe for concurrent use.
type Quality struct {
	now func() time.Time

	mu       sync.Mutex
	samples  map[string][]Sample
	degraded map[string]bool // route + "\x00" + trunk
}

// NewQuality returns an empty Quality; now is the clock (nil: time.Now).
func NewQuality(now func() time.Time) *Quality {
	if now == nil {
		now = time.Now
	}
	return &Quality{now: now, samples: map[string][]Sample{}, degraded: map[string]bool{}}
}

// Record adds an attempt over trunk.
func (q *Quality) Record(trunk string, s Sample) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ss := q.samples[trunk]
	if len(ss) >= MaxSamples {
		ss = append(ss[:0], ss[len(ss)-MaxSamples+1:]...)
	}
	q.samples[trunk] = append(ss, s)
}

// Judge returns trunk's figures over cfg's window and whether it is
// degraded for route. A trunk with fewer than cfg.MinSamples attempts is
// not judged (and not degraded). A trunk becomes degraded when its mean
// MOS is below MinMOS, its ASR below MinASR or its mean PDD above MaxPDD;
// it recovers only when every figure beats its threshold by the
// Hysteresis fraction.
func (q *Quality) Judge(route, trunk string, cfg policy.QualityConfig) policy.TrunkQuality {
	since := q.now().Add(-cfg.Window)
	q.mu.Lock()
	defer q.mu.Unlock()
	var out policy.TrunkQuality
	var answered, mosN, pddN int
	var mosSum float64
	var pddSum time.Duration
	for _, s := range q.samples[trunk] {
		if s.At.Before(since) {
			continue
		}
		out.Samples++
		if s.Answered {
			answered++
			if s.MOS > 0 {
				mosN++
				mosSum += s.MOS
			}
		}
		if s.PDD > 0 {
			pddN++
			pddSum += s.PDD
		}
	}
	if out.Samples > 0 {
		out.ASR = 100 * float64(answered) / float64(out.Samples)
	}
	if mosN > 0 {
		out.MOS = mosSum / float64(mosN)
	}
	if pddN > 0 {
		out.PDD = pddSum / time.Duration(pddN)
	}
	k := route + "\x00" + trunk
	out.Judged = out.Samples >= cfg.MinSamples
	if !out.Judged {
		delete(q.degraded, k)
		return out
	}
	h := cfg.Hysteresis
	bad := (mosN > 0 && out.MOS < cfg.MinMOS) ||
		(cfg.MinASR > 0 && out.ASR < cfg.MinASR) ||
		(cfg.MaxPDD > 0 && pddN > 0 && out.PDD > cfg.MaxPDD)
	good := (mosN == 0 || out.MOS >= cfg.MinMOS*(1+h)) &&
		(cfg.MinASR == 0 || out.ASR >= cfg.MinASR*(1+h)) &&
		(cfg.MaxPDD == 0 || pddN == 0 || float64(out.PDD) <= float64(cfg.MaxPDD)*(1-h))
	if q.degraded[k] {
		out.Degraded = !good
	} else {
		out.Degraded = bad
	}
	if out.Degraded {
		q.degraded[k] = true
	} else {
		delete(q.degraded, k)
	}
	return out
}
