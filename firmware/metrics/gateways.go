package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/sbc/health"
)

// gatewayCollector reports probed gateways' health at scrape time.
type gatewayCollector struct {
	list        func() []health.Status
	up, rtt     *prometheus.Desc
	transitions *prometheus.CounterVec
}

// WatchGateways exports the health of every probed gateway, read from
// list at each scrape: openborder_gateway_up (1 up, 0 down; absent until
// the first probes settle) and openborder_gateway_probe_rtt_seconds.
// GatewayChanged counts the transitions.
func (r *Registry) WatchGateways(list func() []health.Status) {
	labels := []string{"trunk", "realm", "gateway"}
	c := &gatewayCollector{
		list: list,
		up:   prometheus.NewDesc(ns+"_gateway_up", "1 when the gateway answers its OPTIONS health check, 0 when it is out of service.", labels, nil),
		rtt:  prometheus.NewDesc(ns+"_gateway_probe_rtt_seconds", "Round trip of the gateway's latest answered OPTIONS probe.", labels, nil),
	}
	r.gwTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "gateway_transitions_total",
		Help: "Gateway health changes, by the state entered."}, []string{"trunk", "realm", "gateway", "state"})
	r.reg.MustRegister(c, r.gwTransitions)
}

// GatewayChanged counts a gateway health change (after WatchGateways).
func (r *Registry) GatewayChanged(ch health.Change) {
	if r.gwTransitions != nil {
		r.gwTransitions.WithLabelValues(ch.Trunk, ch.Realm, ch.Addr.String(), ch.To.String()).Inc()
	}
}

func (c *gatewayCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.rtt
}

func (c *gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.list() {
		lv := []string{st.Trunk, st.Realm, st.Addr.String()}
		switch st.State {
		case health.Up:
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1, lv...)
		case health.Down:
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, lv...)
		}
		if st.RTT > 0 {
			ch <- prometheus.MustNewConstMetric(c.rtt, prometheus.GaugeValue, st.RTT.Seconds(), lv...)
		}
	}
}
