package tones

import (
	"fmt"
	"strings"
	"time"
)

// Name identifies a call-progress tone.
type Name string

// The tones every country in the tables provides.
const (
	Dial        Name = "dial"
	Ringback    Name = "ringback"
	Busy        Name = "busy"
	Congestion  Name = "congestion"
	CallWaiting Name = "call-waiting"
)

// Names lists the tones every country provides.
var Names = [...]Name{Dial, Ringback, Busy, Congestion, CallWaiting}

// Kind is how a tone's frequencies combine.
type Kind uint8

const (
	// Single is one sine at F1.
	Single Kind = iota + 1
	// Dual is the sum of sines at F1 and F2, each at Level.
	Dual
	// Modulated is a carrier at F1 amplitude modulated by F2 with Depth
	// (E.180 writes it F1×F2); Level is the carrier's unmodulated level.
	Modulated
)

func (k Kind) String() string {
	switch k {
	case Single:
		return "single"
	case Dual:
		return "dual"
	case Modulated:
		return "modulated"
	}
	return "unknown"
}

// MaxCadence is the most on/off steps a cadence can have.
const MaxCadence = 6

// Tone is one call-progress tone.
type Tone struct {
	Kind Kind
	// F1 and F2 are the frequencies in Hz (F2 unused for Single).
	F1, F2 float64
	// Level is the level of each component, in dBm0.
	Level float64
	// Depth is the modulation depth of a Modulated tone (0..1).
	Depth float64
	// Cadence is on, off, on, off... repeated; N steps are used. N == 0
	// means continuous. Each step is a multiple of 1 ms.
	Cadence [MaxCadence]time.Duration
	N       int
}

// Continuous reports whether the tone never pauses.
func (t Tone) Continuous() bool { return t.N == 0 }

// Period returns the length of one cadence cycle (0 if continuous).
func (t Tone) Period() time.Duration {
	var p time.Duration
	for _, d := range t.Cadence[:t.N] {
		p += d
	}
	return p
}

func (t Tone) validate() error {
	switch {
	case t.Kind < Single || t.Kind > Modulated:
		return fmt.Errorf("%w: kind %d", ErrTone, t.Kind)
	case !(t.F1 > 0 && t.F1 < 4000) || (t.Kind != Single && !(t.F2 > 0 && t.F2 < 4000)):
		return fmt.Errorf("%w: frequencies %v, %v Hz", ErrTone, t.F1, t.F2)
	case !(t.Level <= -3 && t.Level >= -60):
		return fmt.Errorf("%w: level %v dBm0 outside -60..-3", ErrTone, t.Level)
	case t.Kind == Modulated && !(t.Depth > 0 && t.Depth <= 1):
		return fmt.Errorf("%w: depth %v", ErrTone, t.Depth)
	case t.N < 0 || t.N > MaxCadence || t.N%2 != 0:
		return fmt.Errorf("%w: cadence of %d steps (want an even count up to %d)", ErrTone, t.N, MaxCadence)
	}
	for i, d := range t.Cadence[:t.N] {
		if d < time.Millisecond || d > time.Minute {
			return fmt.Errorf("%w: cadence step %d is %v", ErrTone, i, d)
		}
	}
	return nil
}

func cad(ms ...int) ([MaxCadence]time.Duration, int) {
	var c [MaxCadence]time.Duration
	for i, v := range ms {
		c[i] = time.Duration(v) * time.Millisecond
	}
	return c, len(ms)
}

func single(f, level float64, ms ...int) Tone {
	c, n := cad(ms...)
	return Tone{Kind: Single, F1: f, Level: level, Cadence: c, N: n}
}

func dual(f1, f2, level float64, ms ...int) Tone {
	c, n := cad(ms...)
	return Tone{Kind: Dual, F1: f1, F2: f2, Level: level, Cadence: c, N: n}
}

func modulated(fc, fm, depth, level float64, ms ...int) Tone {
	c, n := cad(ms...)
	return Tone{Kind: Modulated, F1: fc, F2: fm, Depth: depth, Level: level, Cadence: c, N: n}
}

// table holds the tones by country (ISO 3166 alpha-2) and name. Sources:
// ITU-T E.180 Supplement 2 (tones in national networks); US: ANSI
// T1.401 precise tone plan; UK: BT SIN 350; DE: Deutsche Telekom 1TR110;
// FR: France Télécom STI; IN: TEC/BSNL tone plan. Where a specification
// gives a level range, the middle is used.
var table = map[string]map[Name]Tone{
	"US": {
		Dial:        dual(350, 440, -13),
		Ringback:    dual(440, 480, -19, 2000, 4000),
		Busy:        dual(480, 620, -24, 500, 500),
		Congestion:  dual(480, 620, -24, 250, 250),
		CallWaiting: single(440, -13, 300, 9700),
	},
	"UK": {
		Dial:        dual(350, 440, -22),
		Ringback:    dual(400, 450, -22, 400, 200, 400, 2000),
		Busy:        single(400, -17, 375, 375),
		Congestion:  single(400, -17, 400, 350, 225, 525),
		CallWaiting: single(400, -17, 100, 3000),
	},
	"DE": {
		Dial:        single(425, -10),
		Ringback:    single(425, -10, 1000, 4000),
		Busy:        single(425, -10, 480, 480),
		Congestion:  single(425, -10, 240, 240),
		CallWaiting: single(425, -10, 200, 200, 200, 5000),
	},
	"FR": {
		Dial:        single(440, -10),
		Ringback:    single(440, -10, 1500, 3500),
		Busy:        single(440, -10, 500, 500),
		Congestion:  single(440, -10, 250, 250),
		CallWaiting: single(440, -10, 300, 10000),
	},
	"IN": {
		Dial:        modulated(400, 25, 0.5, -10),
		Ringback:    modulated(400, 25, 0.5, -10, 400, 200, 400, 2000),
		Busy:        single(400, -10, 750, 750),
		Congestion:  single(400, -10, 250, 250),
		CallWaiting: single(400, -10, 200, 100, 200, 7500),
	},
}

// Countries lists the country codes in the tables, sorted.
func Countries() []string {
	return []string{"DE", "FR", "IN", "UK", "US"}
}

// Lookup returns a country's tone. The country is an ISO 3166 alpha-2
// code, case-insensitive; "GB" is accepted for the UK.
func Lookup(country string, name Name) (Tone, error) {
	c := strings.ToUpper(country)
	if c == "GB" {
		c = "UK"
	}
	tones, ok := table[c]
	if !ok {
		return Tone{}, fmt.Errorf("%w: country %q", ErrUnknown, country)
	}
	t, ok := tones[name]
	if !ok {
		return Tone{}, fmt.Errorf("%w: %q in %s", ErrUnknown, name, c)
	}
	return t, nil
}
