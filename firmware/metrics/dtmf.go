package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/sbc"
)

var _ sbc.DigitObserver = (*Registry)(nil)

func newDigitCounter() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dtmf_digits_total",
		Help: "DTMF digits received from either leg, by method (rfc4733, inband, info)."}, []string{"method"})
	for _, m := range []string{sbc.DigitRFC4733, sbc.DigitInband, sbc.DigitInfo} {
		c.WithLabelValues(m)
	}
	return c
}

// Digit counts one DTMF digit (sbc.DigitObserver).
func (r *Registry) Digit(_ *sbc.CallRecord, d sbc.Digit) {
	r.digits.WithLabelValues(d.Method).Inc()
}
