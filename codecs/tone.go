package codecs

import (
	"errors"
	"fmt"
	"math"
)

// ErrToneParams reports tone generator parameters out of range.
var ErrToneParams = errors.New("codecs: bad tone parameters")

// g711FullScaleDBm0 is the level of a full-scale (peak 32767) sine in G.711
// terms: +3.17 dBm0.
const g711FullScaleDBm0 = 3.17

// Tone generates a continuous sine wave, frame by frame, with phase carried
// across frames. It does not allocate after construction.
type Tone struct {
	rate  float64
	step  float64 // phase increment per sample, radians
	phase float64
	amp   float64
}

// NewTone returns a generator of freq Hz at level dBm0 (e.g. -10) for
// PCM at rate samples per second. freq must be below rate/2 and the level
// at most +3.17 dBm0 (full scale).
func NewTone(rate int, freq float64, levelDBm0 float64) (*Tone, error) {
	if rate <= 0 || freq <= 0 || freq >= float64(rate)/2 || math.IsNaN(freq) {
		return nil, fmt.Errorf("%w: rate %d Hz, frequency %v Hz", ErrToneParams, rate, freq)
	}
	if levelDBm0 > g711FullScaleDBm0 || math.IsNaN(levelDBm0) {
		return nil, fmt.Errorf("%w: level %v dBm0 above full scale", ErrToneParams, levelDBm0)
	}
	return &Tone{
		rate: float64(rate),
		step: 2 * math.Pi * freq / float64(rate),
		amp:  32767 * math.Pow(10, (levelDBm0-g711FullScaleDBm0)/20),
	}, nil
}

// Amplitude returns the peak amplitude in linear 16-bit units.
func (t *Tone) Amplitude() float64 { return t.amp }

// Read fills dst with the next len(dst) samples.
func (t *Tone) Read(dst []int16) {
	for i := range dst {
		dst[i] = int16(math.Round(t.amp * math.Sin(t.phase)))
		t.phase += t.step
		if t.phase >= 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}
