package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/sbc"
)

// outboundCollector reports sbcd's own registrations with trunks at
// scrape time. Labels are trunk and realm only: never a user.
type outboundCollector struct {
	list                 func() []sbc.OutboundRegistration
	state, ok, failed    *prometheus.Desc
	expires, consecutive *prometheus.Desc
}

// WatchOutbound exports the outbound registrations read from list at each
// scrape: openborder_trunk_registration_state (1 for the trunk's current
// state, 0 for the others), openborder_trunk_registration_successes_total
// and _failures_total (REGISTER transactions since start),
// openborder_trunk_registration_consecutive_failures and
// openborder_trunk_registration_expiry_timestamp_seconds.
func (r *Registry) WatchOutbound(list func() []sbc.OutboundRegistration) {
	labels := []string{"trunk", "realm"}
	r.reg.MustRegister(&outboundCollector{
		list: list,
		state: prometheus.NewDesc(ns+"_trunk_registration_state",
			"sbcd's registration with a trunk: 1 for the state it is in (registering, registered, failed, unregistered), 0 for the others.",
			[]string{"trunk", "realm", "state"}, nil),
		ok: prometheus.NewDesc(ns+"_trunk_registration_successes_total",
			"Successful REGISTERs (first registrations and refreshes) sbcd sent to a trunk.", labels, nil),
		failed: prometheus.NewDesc(ns+"_trunk_registration_failures_total",
			"REGISTERs to a trunk that failed (refused, unanswered or unreachable).", labels, nil),
		consecutive: prometheus.NewDesc(ns+"_trunk_registration_consecutive_failures",
			"Failed attempts since the trunk's last successful REGISTER (the back-off doubles with each).", labels, nil),
		expires: prometheus.NewDesc(ns+"_trunk_registration_expiry_timestamp_seconds",
			"Unix time at which the trunk registration ends unless refreshed; absent when not registered.", labels, nil),
	})
}

func (c *outboundCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.ok
	ch <- c.failed
	ch <- c.consecutive
	ch <- c.expires
}

func (c *outboundCollector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range c.list() {
		for _, s := range sbc.RegStates {
			v := 0.0
			if s == o.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, o.Trunk, o.Realm, s)
		}
		ch <- prometheus.MustNewConstMetric(c.ok, prometheus.CounterValue, float64(o.Registrations), o.Trunk, o.Realm)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(o.FailedAttempts), o.Trunk, o.Realm)
		ch <- prometheus.MustNewConstMetric(c.consecutive, prometheus.GaugeValue, float64(o.Failures), o.Trunk, o.Realm)
		if !o.Expires.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.expires, prometheus.GaugeValue, float64(o.Expires.UnixMilli())/1000, o.Trunk, o.Realm)
		}
	}
}
