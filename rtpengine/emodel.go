package rtpengine

import "time"

// E-model (ITU-T G.107), simplified for a relay that sees only network
// impairments: R = R0 - Is - Id - Ie,eff + A with the default R0 - Is =
// 93.2 and A = 0.
const (
	emodelR0 = 93.2
	// bplG711 is the packet-loss robustness of G.711 with packet loss
	// concealment (ITU-T G.113 Appendix I).
	bplG711 = 25.1
	// playoutDelay approximates packetisation and a minimal jitter buffer
	// that a one-way delay estimate adds to the network delay.
	playoutDelay = 40 * time.Millisecond
)

// rFactor computes R from the one-way mouth-to-ear delay and the packet
// loss percentage (random loss, BurstR = 1, Ie = 0 for G.711).
func rFactor(delay time.Duration, lossPct float64) float64 {
	d := float64(delay) / float64(time.Millisecond)
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ieEff := (95 - 0) * lossPct / (lossPct + bplG711)
	return min(max(emodelR0-id-ieEff, 0), 100)
}

// mosFromR maps R to the estimated MOS (G.107 annex B).
func mosFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

// streamR is the R-factor of what an endpoint received: loss from the RTP
// sequence, delay from half the RTT plus twice the jitter plus playout.
// ok is false before any RTP arrived.
func streamR(ep *endpoint, s StreamStats) (float64, bool) {
	exp := ep.c.expected.Load()
	if exp == 0 {
		return 0, false
	}
	loss := 100 * float64(min(s.Lost, exp)) / float64(exp)
	delay := s.RTT/2 + 2*s.Jitter + playoutDelay
	return rFactor(delay, loss), true
}
