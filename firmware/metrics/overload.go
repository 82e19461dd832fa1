package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/firmware/overload"
)

// WatchOverload exports the overload monitor's state: whether sbcd sheds
// load now, how fast, and how many episodes there were.
func (r *Registry) WatchOverload(state func() overload.State) {
	r.reg.MustRegister(&overloadCollector{state: state,
		on: prometheus.NewDesc(ns+"_overload",
			"1 while sbcd sheds load (an overload episode: obOverload sent, obOverloadCleared not yet), else 0.", nil, nil),
		rate: prometheus.NewDesc(ns+"_overload_refusals_per_second",
			"Refusals per second over the last sampling interval, by kind (admission: calls refused by admission control; flood: messages dropped by rate limits).",
			[]string{"kind"}, nil),
		episodes: prometheus.NewDesc(ns+"_overload_episodes_total", "Overload episodes started.", nil, nil),
	})
}

type overloadCollector struct {
	state              func() overload.State
	on, rate, episodes *prometheus.Desc
}

func (c *overloadCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.on
	ch <- c.rate
	ch <- c.episodes
}

func (c *overloadCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	on := 0.0
	if s.Overloaded {
		on = 1
	}
	ch <- prometheus.MustNewConstMetric(c.on, prometheus.GaugeValue, on)
	ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, s.AdmissionRate, "admission")
	ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, s.FloodRate, "flood")
	ch <- prometheus.MustNewConstMetric(c.episodes, prometheus.CounterValue, float64(s.Episodes))
}
