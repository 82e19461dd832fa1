package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/sbc/guard"
)

// Guard is what the border defence reports at scrape time.
type Guard interface {
	Stats() []guard.Count
	Blocks() map[string]uint64
	BlacklistSize() int
	EmergencyPassed() uint64
}

// WatchGuard exports the border defence's counters: messages refused by
// stage and reason, sources blacklisted by reason, and the blacklist's
// size. No label carries a source address.
func (r *Registry) WatchGuard(g Guard) {
	r.reg.MustRegister(&guardCollector{
		g: g,
		refused: prometheus.NewDesc(ns+"_security_refused_total",
			"SIP messages refused by the border defence, by stage (sanity, acl, blacklist, ratelimit, scanner) and reason.",
			[]string{"stage", "reason"}, nil),
		blocked: prometheus.NewDesc(ns+"_blacklist_added_total",
			"Sources put on the blacklist, by reason.", []string{"reason"}, nil),
		entries: prometheus.NewDesc(ns+"_blacklist_entries",
			"Sources on the blacklist now (expired entries are swept as they are met).", nil, nil),
		emergency: prometheus.NewDesc(ns+"_security_emergency_passed_total",
			"Messages of emergency calls let through a rate limit or a rate_exceeded blacklist entry that would have refused them.", nil, nil),
	})
}

type guardCollector struct {
	g                                    Guard
	refused, blocked, entries, emergency *prometheus.Desc
}

func (c *guardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.refused
	ch <- c.blocked
	ch <- c.entries
	ch <- c.emergency
}

func (c *guardCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.g.Stats() {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.N), s.Stage, s.Reason)
	}
	for reason, n := range c.g.Blocks() {
		ch <- prometheus.MustNewConstMetric(c.blocked, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(c.g.BlacklistSize()))
	ch <- prometheus.MustNewConstMetric(c.emergency, prometheus.CounterValue, float64(c.g.EmergencyPassed()))
}

// FraudBlocks counts accounts blocked by toll-fraud rules.
type FraudBlocks struct{ c *prometheus.CounterVec }

// WatchFraud registers openborder_fraud_blocks_total{rule, limit} and
// returns the counter to feed. The account is not a label: it would make
// a series per user.
func (r *Registry) WatchFraud() *FraudBlocks {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_fraud_blocks_total",
		Help: "Accounts blocked by a toll-fraud rule, by rule and limit breached (calls_per_hour, max_calls, max_cost_per_hour)."},
		[]string{"rule", "limit"})
	r.reg.MustRegister(c)
	return &FraudBlocks{c: c}
}

// Blocked counts one account blocked by rule for limit. Nil-safe.
func (f *FraudBlocks) Blocked(rule, limit string) {
	if f != nil {
		f.c.WithLabelValues(rule, limit).Inc()
	}
}
