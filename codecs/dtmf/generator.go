package dtmf

import (
	"fmt"
	"math"
	"time"

	"github.com/openborder/openborder/codecs"
)

// GeneratorConfig configures a Generator. The zero value gives the
// defaults.
type GeneratorConfig struct {
	// Rate is the sample rate in Hz, 8000 to 48000. Default 8000.
	Rate int
	// Level is the level of the low-group tone in dBm0. Default −7. The
	// two tones together must fit in 16 bits.
	Level float64
	// Twist is the level of the high-group tone relative to the low-group
	// tone, in dB (positive: high group louder). Default 0.
	Twist float64
	// On is how long each digit sounds. Default 100 ms.
	On time.Duration
	// Off is the pause after each digit. Default 100 ms.
	Off time.Duration
	// LowShift and HighShift shift the tones' frequencies by a relative
	// amount (0.015 = +1.5 %), to test detectors. Default 0.
	LowShift, HighShift float64
}

func (c *GeneratorConfig) validate() error {
	if c.Rate == 0 {
		c.Rate = 8000
	}
	if c.Level == 0 {
		c.Level = -7
	}
	if c.On == 0 {
		c.On = 100 * time.Millisecond
	}
	if c.Off == 0 {
		c.Off = 100 * time.Millisecond
	}
	switch {
	case c.Rate < 8000 || c.Rate > 48000:
		return fmt.Errorf("%w: %d Hz (want 8000..48000)", ErrRate, c.Rate)
	case math.IsNaN(c.Level) || math.IsNaN(c.Twist) || c.Level < -80:
		return fmt.Errorf("%w: level %v dBm0, twist %v dB", ErrConfig, c.Level, c.Twist)
	case amplitude(c.Level)+amplitude(c.Level+c.Twist) > 32767:
		return fmt.Errorf("%w: level %v dBm0 with twist %v dB clips", ErrConfig, c.Level, c.Twist)
	case c.On < time.Millisecond || c.On > time.Minute || c.Off < 0 || c.Off > time.Minute:
		return fmt.Errorf("%w: on %v, off %v", ErrConfig, c.On, c.Off)
	case math.Abs(c.LowShift) > 0.2 || math.Abs(c.HighShift) > 0.2:
		return fmt.Errorf("%w: frequency shift beyond ±20 %%", ErrConfig)
	}
	return nil
}

// Generator renders DTMF digit sequences into caller buffers. It does not
// allocate after construction. Not safe for concurrent use.
type Generator struct {
	cfg     GeneratorConfig
	on, off int // samples
	ampL    float64
	ampH    float64
	keys    string
	idx     int // current key in keys
	pos     int // sample within the current key's on+off period
	oscL    codecs.Oscillator
	oscH    codecs.Oscillator
}

// NewGenerator returns a Generator, or ErrRate/ErrConfig.
func NewGenerator(cfg GeneratorConfig) (*Generator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Generator{
		cfg:  cfg,
		on:   int(int64(cfg.On) * int64(cfg.Rate) / int64(time.Second)),
		off:  int(int64(cfg.Off) * int64(cfg.Rate) / int64(time.Second)),
		ampL: amplitude(cfg.Level),
		ampH: amplitude(cfg.Level + cfg.Twist),
	}, nil
}

// Play queues keys, replacing anything not yet played. Every character
// must be a DTMF key.
func (g *Generator) Play(keys string) error {
	for i := 0; i < len(keys); i++ {
		if _, _, err := Frequencies(keys[i]); err != nil {
			return err
		}
	}
	g.keys, g.idx, g.pos = keys, 0, 0
	g.load()
	return nil
}

// load prepares the oscillators for the current key.
func (g *Generator) load() {
	if g.idx >= len(g.keys) {
		return
	}
	lf, hf, _ := Frequencies(g.keys[g.idx]) // validated by Play
	g.oscL = codecs.NewOscillator(lf*(1+g.cfg.LowShift), g.cfg.Rate)
	g.oscH = codecs.NewOscillator(hf*(1+g.cfg.HighShift), g.cfg.Rate)
}

// Done reports whether every queued key has been played, pause included.
func (g *Generator) Done() bool { return g.idx >= len(g.keys) }

// Read fills dst with the next samples: tone, pause, and silence once the
// sequence is done.
func (g *Generator) Read(dst []int16) {
	for i := range dst {
		if g.idx >= len(g.keys) {
			clear(dst[i:])
			return
		}
		if g.pos < g.on {
			v := g.ampL*g.oscL.Next() + g.ampH*g.oscH.Next()
			dst[i] = int16(math.Round(v))
		} else {
			dst[i] = 0
		}
		g.pos++
		if g.pos >= g.on+g.off {
			g.pos = 0
			g.idx++
			g.load()
		}
	}
	g.oscL.Renorm()
	g.oscH.Renorm()
}
