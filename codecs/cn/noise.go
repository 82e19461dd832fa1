package cn

import (
	"fmt"
	"math"
)

// stepUp converts reflection coefficients to the direct-form predictor
// a₁..aₚ of A(z) = 1 + Σ aⱼ z⁻ʲ and returns the normalised prediction
// error Π(1 − kᵢ²).
func stepUp(a *[MaxOrder]float64, k []float64) float64 {
	var tmp [MaxOrder]float64
	gain := 1.0
	for i, ki := range k {
		copy(tmp[:i], a[:i])
		for j := 0; j < i; j++ {
			a[j] = tmp[j] + ki*tmp[i-1-j]
		}
		a[i] = ki
		gain *= 1 - ki*ki
	}
	return gain
}

// Generator synthesises comfort noise: white noise through the all-pole
// filter of the current Payload, scaled to its level. Not safe for
// concurrent use; it does not allocate.
type Generator struct {
	p     Payload
	a     [MaxOrder]float64
	hist  [MaxOrder]float64 // past outputs, hist[0] most recent
	sigma float64           // excitation RMS
	rng   uint64
}

// NewGenerator returns a generator seeded with seed (any value).
func NewGenerator(seed uint64) *Generator {
	g := &Generator{rng: seed | 1}
	_ = g.Set(Payload{Level: MaxLevel})
	return g
}

// Set switches to new noise parameters; the filter memory is kept so the
// change does not click.
func (g *Generator) Set(p Payload) error {
	if err := p.Validate(); err != nil {
		return err
	}
	g.p = p
	g.a = [MaxOrder]float64{}
	gain := stepUp(&g.a, p.K[:p.Order])
	// Output power = excitation power / Π(1−k²).
	g.sigma = LevelRMS(p.Level) * math.Sqrt(gain)
	return nil
}

// Payload returns the parameters in use.
func (g *Generator) Payload() Payload { return g.p }

// uniform returns a uniform sample of unit variance (xorshift64*).
func (g *Generator) uniform() float64 {
	g.rng ^= g.rng >> 12
	g.rng ^= g.rng << 25
	g.rng ^= g.rng >> 27
	u := g.rng * 2685821657736338717
	// 53 random bits to [-√3, √3).
	return (float64(u>>11)/(1<<53)*2 - 1) * math.Sqrt(3)
}

// Read fills dst with noise.
func (g *Generator) Read(dst []int16) {
	n := g.p.Order
	for i := range dst {
		y := g.sigma * g.uniform()
		for j := 0; j < n; j++ {
			y -= g.a[j] * g.hist[j]
		}
		if n > 0 {
			copy(g.hist[1:n], g.hist[:n-1])
			g.hist[0] = y
		}
		dst[i] = int16(max(-32768, min(32767, math.Round(y))))
	}
}

// Estimate derives a Payload of the given order (0..MaxOrder) from a frame
// of background noise: its level, and reflection coefficients from the
// autocorrelation by the Levinson-Durbin recursion.
func Estimate(pcm []int16, order int) (Payload, error) {
	if order < 0 || order > MaxOrder {
		return Payload{}, fmt.Errorf("%w: order %d outside 0..%d", ErrParams, order, MaxOrder)
	}
	if len(pcm) <= order {
		return Payload{}, fmt.Errorf("%w: %d samples for order %d", ErrParams, len(pcm), order)
	}
	var r [MaxOrder + 1]float64
	for lag := 0; lag <= order; lag++ {
		var s float64
		for i := lag; i < len(pcm); i++ {
			s += float64(pcm[i]) * float64(pcm[i-lag])
		}
		r[lag] = s
	}
	p := Payload{Level: levelOf(r[0] / float64(len(pcm)))}
	if r[0] == 0 || order == 0 {
		return p, nil
	}
	// A tiny white-noise floor (−40 dB) keeps the recursion well
	// conditioned on pure tones.
	r[0] *= 1.0001
	var a, tmp [MaxOrder]float64
	errPow := r[0]
	for i := 0; i < order; i++ {
		acc := r[i+1]
		for j := 0; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		k := -acc / errPow
		// Keep the filter stable after quantisation.
		k = max(-127.0/128, min(127.0/128, k))
		copy(tmp[:i], a[:i])
		for j := 0; j < i; j++ {
			a[j] = tmp[j] + k*tmp[i-1-j]
		}
		a[i] = k
		p.K[i] = k
		errPow *= 1 - k*k
	}
	p.Order = order
	return p, nil
}
