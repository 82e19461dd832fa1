package tones

import (
	"fmt"
	"math"
	"time"

	"github.com/openborder/openborder/codecs"
)

// fullScaleDBm0 is the level of a full-scale sine: 0 dBm0 is a sine of
// peak 32767/10^(3.17/20), as in package codecs.
const fullScaleDBm0 = 3.17

func amplitude(dBm0 float64) float64 {
	return 32767 * math.Pow(10, (dBm0-fullScaleDBm0)/20)
}

// Generator plays one Tone with its cadence. Not safe for concurrent use.
type Generator struct {
	tone   Tone
	rate   int
	a1, a2 float64
	o1, o2 codecs.Oscillator
	steps  [MaxCadence]int // cadence steps in samples
	n      int
	step   int // current cadence step
	left   int // samples left in it
}

// NewGenerator returns a Generator of t at rate 8000, 16000 or 48000 Hz.
func NewGenerator(t Tone, rate int) (*Generator, error) {
	if rate != 8000 && rate != 16000 && rate != 48000 {
		return nil, fmt.Errorf("%w: %d Hz (want 8000, 16000 or 48000)", ErrRate, rate)
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	g := &Generator{tone: t, rate: rate, n: t.N}
	g.a1 = amplitude(t.Level)
	if t.Kind == Dual {
		// Two components at ≤ −3 dBm0, or a carrier at ≤ −3 dBm0 with depth
		// ≤ 1, peak below 32767: validate keeps every tone unclipped.
		g.a2 = g.a1
	}
	for i := 0; i < t.N; i++ {
		g.steps[i] = int(int64(t.Cadence[i]) * int64(rate) / int64(time.Second))
	}
	g.Reset()
	return g, nil
}

// Tone returns the tone being played.
func (g *Generator) Tone() Tone { return g.tone }

// Reset restarts the tone at the beginning of its cadence.
func (g *Generator) Reset() {
	g.o1 = codecs.NewOscillator(g.tone.F1, g.rate)
	g.o2 = codecs.NewOscillator(g.tone.F2, g.rate)
	g.step = 0
	if g.n > 0 {
		g.left = g.steps[0]
	}
}

// Read fills dst with the next samples.
func (g *Generator) Read(dst []int16) {
	for i := range dst {
		on := true
		if g.n > 0 {
			for g.left == 0 {
				g.step = (g.step + 1) % g.n
				g.left = g.steps[g.step]
				if g.step%2 == 0 {
					// Each burst starts at phase 0: no click.
					g.o1 = codecs.NewOscillator(g.tone.F1, g.rate)
					g.o2 = codecs.NewOscillator(g.tone.F2, g.rate)
				}
			}
			g.left--
			on = g.step%2 == 0
		}
		var v float64
		if on {
			switch g.tone.Kind {
			case Single:
				v = g.a1 * g.o1.Next()
			case Dual:
				v = g.a1*g.o1.Next() + g.a2*g.o2.Next()
			case Modulated:
				m := g.o2.Next()
				v = g.a1 * (1 + g.tone.Depth*m) * g.o1.Next()
			}
		}
		dst[i] = int16(math.Round(v))
	}
	g.o1.Renorm()
	g.o2.Renorm()
}
