package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds collectors of other components (the TURN server, the
// WebSocket listeners) to the registry /metrics serves.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
