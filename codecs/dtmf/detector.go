package dtmf

import (
	"fmt"
	"math"
	"time"
)

// fullScaleDBm0 is the level of a full-scale sine in G.711 terms, the
// convention of package codecs: 0 dBm0 is a sine of peak 32767/10^(3.17/20).
const fullScaleDBm0 = 3.17

// amplitude returns the peak of a sine at level dBm0.
func amplitude(dBm0 float64) float64 {
	return 32767 * math.Pow(10, (dBm0-fullScaleDBm0)/20)
}

// DetectorConfig tunes a Detector. The zero value gives the defaults,
// which follow ITU-T Q.24 and common practice.
type DetectorConfig struct {
	// MinLevel is the weakest tone accepted, in dBm0. Default −30 (between
	// the −25 dBm0 that must be accepted and the −35 dBm0 that must not).
	MinLevel float64
	// MaxNormalTwist is how far the high-group tone may be louder than the
	// low-group tone, in dB. Default 9 (accept 8 dB, reject 10 dB and up).
	MaxNormalTwist float64
	// MaxReverseTwist is how far the low-group tone may be louder than the
	// high-group tone, in dB. Default 5.5 (accept 4 dB, reject 7 dB and up).
	MaxReverseTwist float64
	// FreqTolerance is the largest relative frequency deviation accepted.
	// Default 0.025 (accept ±1.5 %, reject beyond ±3.5 %).
	FreqTolerance float64
	// MinEnergyRatio is the share of the window's energy that the two tones
	// must carry (0..1); speech spreads its energy and fails it. Default 0.8.
	MinEnergyRatio float64
	// MinPeakRatio is how far, in dB, each tone must stand above the other
	// tones of its group. Default 8.
	MinPeakRatio float64
	// MaxHarmonic is how far, in dB, a tone's second harmonic must stay
	// below the two tones' energy. Default 12.
	MaxHarmonic float64
}

func (c *DetectorConfig) validate() error {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MinLevel, -30)
	def(&c.MaxNormalTwist, 9)
	def(&c.MaxReverseTwist, 5.5)
	def(&c.FreqTolerance, 0.025)
	def(&c.MinEnergyRatio, 0.8)
	def(&c.MinPeakRatio, 8)
	def(&c.MaxHarmonic, 12)
	switch {
	case !(c.MinLevel >= -60 && c.MinLevel <= 0):
		return fmt.Errorf("%w: min level %v dBm0 outside -60..0", ErrConfig, c.MinLevel)
	case !(c.MaxNormalTwist > 0 && c.MaxNormalTwist <= 20):
		return fmt.Errorf("%w: normal twist %v dB outside 0..20", ErrConfig, c.MaxNormalTwist)
	case !(c.MaxReverseTwist > 0 && c.MaxReverseTwist <= 20):
		return fmt.Errorf("%w: reverse twist %v dB outside 0..20", ErrConfig, c.MaxReverseTwist)
	case !(c.FreqTolerance > 0 && c.FreqTolerance <= 0.05):
		return fmt.Errorf("%w: frequency tolerance %v outside 0..0.05", ErrConfig, c.FreqTolerance)
	case !(c.MinEnergyRatio > 0 && c.MinEnergyRatio < 1):
		return fmt.Errorf("%w: energy ratio %v outside 0..1", ErrConfig, c.MinEnergyRatio)
	case !(c.MinPeakRatio > 0 && c.MinPeakRatio <= 40):
		return fmt.Errorf("%w: peak ratio %v dB outside 0..40", ErrConfig, c.MinPeakRatio)
	case !(c.MaxHarmonic > 0 && c.MaxHarmonic <= 60):
		return fmt.Errorf("%w: harmonic limit %v dB outside 0..60", ErrConfig, c.MaxHarmonic)
	}
	return nil
}

// EventKind tells a digit's start from its end.
type EventKind uint8

const (
	// Start reports that a digit began.
	Start EventKind = iota + 1
	// End reports that a digit ended; Duration is set.
	End
)

func (k EventKind) String() string {
	switch k {
	case Start:
		return "start"
	case End:
		return "end"
	}
	return "unknown"
}

// Event is a digit start or end.
type Event struct {
	Kind EventKind
	// Key is the digit: '0'-'9', '*', '#', 'A'-'D'.
	Key byte
	// At is the estimated sample position (counted from the first sample
	// fed to the detector) where the digit started or ended. It precedes
	// the moment of the report: detection needs two windows.
	At int64
	// Duration is the digit's length in samples (End events only).
	Duration int64
}

func (e Event) String() string {
	if e.Kind == End {
		return fmt.Sprintf("%s %c at %d (%d samples)", e.Kind, e.Key, e.At, e.Duration)
	}
	return fmt.Sprintf("%s %c at %d", e.Kind, e.Key, e.At)
}

// Window sizes at 8 kHz; doubled at 16 kHz so the timing is the same.
const (
	window8k = 160 // 20 ms
	hop8k    = 80  // 10 ms
	maxWin   = 2 * window8k
)

// minBalance is the smallest energy ratio between the two halves of a
// window that can start a digit.
const minBalance = 0.6

// goertzel holds the coefficient of one Goertzel filter.
type goertzel struct {
	coef float32 // 2 cos(ω)
}

func newGoertzel(freq float64, rate int) goertzel {
	return goertzel{coef: float32(2 * math.Cos(2*math.Pi*freq/float64(rate)))}
}

// power returns |X(ω)|² of x.
func (g goertzel) power(x []float32) float32 {
	var s1, s2 float32
	c := g.coef
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// powers8 runs eight Goertzel filters over x in one pass (independent
// recurrences pipeline well) and stores |X|² in out.
func powers8(c *[8]float32, x []float32, out *[8]float64) {
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	var b0, b1, b2, b3, b4, b5, b6, b7 float32
	c0, c1, c2, c3, c4, c5, c6, c7 := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	for _, v := range x {
		a0, b0 = v+c0*a0-b0, a0
		a1, b1 = v+c1*a1-b1, a1
		a2, b2 = v+c2*a2-b2, a2
		a3, b3 = v+c3*a3-b3, a3
		a4, b4 = v+c4*a4-b4, a4
		a5, b5 = v+c5*a5-b5, a5
		a6, b6 = v+c6*a6-b6, a6
		a7, b7 = v+c7*a7-b7, a7
	}
	p := func(s1, s2, c float32) float64 { return float64(s1*s1 + s2*s2 - c*s1*s2) }
	out[0], out[1], out[2], out[3] = p(a0, b0, c0), p(a1, b1, c1), p(a2, b2, c2), p(a3, b3, c3)
	out[4], out[5], out[6], out[7] = p(a4, b4, c4), p(a5, b5, c5), p(a6, b6, c6), p(a7, b7, c7)
}

// tone is one DTMF frequency with its fine-analysis filters.
type tone struct {
	freq     float64
	nominal  goertzel
	side     [4]goertzel // -2, -1, +1, +2 bins
	harmonic goertzel
}

// Detector finds DTMF digits in one PCM stream. Not safe for concurrent
// use: one stream owns one Detector.
type Detector struct {
	cfg   DetectorConfig
	rate  int
	win   int // samples per window
	hop   int // samples between windows
	bin   float64
	low   [4]tone
	high  [4]tone
	nom   [8]float32 // nominal coefficients: low group then high group
	buf   [maxWin]float32
	fill  int
	pos   int64 // samples consumed so far
	start int64 // sample position of buf[0]

	// Thresholds derived from cfg, in the units the hot path compares.
	minAmp2       float64 // (2/N)² |X|² ≥ this: tone peak² above MinLevel
	normTwist     float64
	revTwist      float64
	peakRatio     float64
	harmonicRatio float64

	// Digit state.
	active   int // key index 0..15 of the digit in progress, or -1
	activeAt int64
	lastHit  int64 // end position of the last window that saw the active key
	misses   int   // consecutive windows without the active key
	run      int   // key index of the current candidate run, or -1
	runLen   int
	runStart int64 // start position of the run's first window
}

// NewDetector returns a detector for PCM at rate 8000 or 16000 Hz.
func NewDetector(rate int, cfg DetectorConfig) (*Detector, error) {
	if rate != 8000 && rate != 16000 {
		return nil, fmt.Errorf("%w: %d Hz (want 8000 or 16000)", ErrRate, rate)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	scale := rate / 8000
	d := &Detector{
		cfg:  cfg,
		rate: rate,
		win:  window8k * scale,
		hop:  hop8k * scale,
	}
	d.bin = float64(rate) / float64(d.win)
	mk := func(f float64) tone {
		t := tone{freq: f, nominal: newGoertzel(f, rate), harmonic: newGoertzel(2*f, rate)}
		for i, k := range [4]float64{-2, -1, 1, 2} {
			t.side[i] = newGoertzel(f+k*d.bin, rate)
		}
		return t
	}
	for i := range lowFreqs {
		d.low[i] = mk(lowFreqs[i])
		d.high[i] = mk(highFreqs[i])
		d.nom[i] = d.low[i].nominal.coef
		d.nom[4+i] = d.high[i].nominal.coef
	}
	a := amplitude(cfg.MinLevel)
	d.minAmp2 = a * a
	d.normTwist = math.Pow(10, cfg.MaxNormalTwist/10)
	d.revTwist = math.Pow(10, cfg.MaxReverseTwist/10)
	d.peakRatio = math.Pow(10, cfg.MinPeakRatio/10)
	d.harmonicRatio = math.Pow(10, -cfg.MaxHarmonic/10)
	d.Reset()
	return d, nil
}

// Reset forgets all state, as for a new stream.
func (d *Detector) Reset() {
	d.fill = 0
	d.pos = 0
	d.start = 0
	d.active = -1
	d.run = -1
	d.runLen = 0
	d.misses = 0
}

// Rate returns the sample rate.
func (d *Detector) Rate() int { return d.rate }

// Latency returns how long after a digit's true start its Start event is
// reported, at most.
func (d *Detector) Latency() time.Duration {
	return time.Duration(d.win+2*d.hop) * time.Second / time.Duration(d.rate)
}

// Duration converts a sample count to time.
func (d *Detector) Duration(samples int64) time.Duration {
	return time.Duration(samples * int64(time.Second) / int64(d.rate))
}

// Active reports the key of the digit in progress, if any.
func (d *Detector) Active() (byte, bool) {
	if d.active < 0 {
		return 0, false
	}
	return keyOf(d.active), true
}

func keyOf(idx int) byte { return keypad[idx/4][idx%4] }

// Process consumes pcm and appends the digit events it completes to dst.
func (d *Detector) Process(dst []Event, pcm []int16) []Event {
	for len(pcm) > 0 {
		n := copy16(d.buf[d.fill:d.win], pcm)
		d.fill += n
		d.pos += int64(n)
		pcm = pcm[n:]
		if d.fill < d.win {
			break
		}
		dst = d.window(dst, d.classify(d.buf[:d.win], d.active >= 0))
		// Slide by one hop.
		copy(d.buf[:], d.buf[d.hop:d.win])
		d.fill = d.win - d.hop
		d.start += int64(d.hop)
	}
	return dst
}

func copy16(dst []float32, src []int16) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = float32(src[i])
	}
	return n
}

// Flush ends a digit in progress (end of stream) and appends its End event.
func (d *Detector) Flush(dst []Event) []Event {
	if d.active >= 0 {
		dst = d.end(dst)
	}
	d.run, d.runLen = -1, 0
	return dst
}

// window advances the digit state machine with one window's verdict.
func (d *Detector) window(dst []Event, key int) []Event {
	winEnd := d.start + int64(d.win)
	if key >= 0 && key == d.run {
		d.runLen++
	} else {
		d.run, d.runLen, d.runStart = key, 1, d.start
	}
	if d.active >= 0 {
		if key == d.active {
			d.misses = 0
			d.lastHit = winEnd
			return dst
		}
		d.misses++
		if d.misses < 2 {
			return dst
		}
		dst = d.end(dst)
	}
	if d.run >= 0 && d.runLen >= 2 {
		d.active = d.run
		// The first window that saw the tone holds its start somewhere:
		// take the middle.
		d.activeAt = d.runStart + int64(d.win/2)
		d.lastHit = winEnd
		d.misses = 0
		dst = append(dst, Event{Kind: Start, Key: keyOf(d.active), At: d.activeAt})
	}
	return dst
}

func (d *Detector) end(dst []Event) []Event {
	at := d.lastHit - int64(d.win/2)
	if at < d.activeAt {
		at = d.activeAt
	}
	dst = append(dst, Event{Kind: End, Key: keyOf(d.active), At: at, Duration: at - d.activeAt})
	d.active = -1
	d.misses = 0
	return dst
}

// coefs returns the side-bin coefficients of t.
func coefs(t *tone) []float32 {
	return []float32{t.side[0].coef, t.side[1].coef, t.side[2].coef, t.side[3].coef}
}

// toneEnergy is the fine analysis of one candidate tone.
type toneEnergy struct {
	energy float64 // |X|² summed over the nominal bin and its neighbours
	dev    float64 // estimated relative frequency deviation
	ok     bool    // frequency within tolerance
}

// analyse measures a candidate tone in x: energy over three bins and the
// frequency deviation interpolated between the nominal bin and its
// stronger neighbour (exact for a rectangular window: δ = |X₁|/(|X₀|+|X₁|)).
func (d *Detector) analyse(t *tone, p0 float64, p []float64) toneEnergy {
	// p[0]=-2, p[1]=-1, p[2]=+1, p[3]=+2 bins.
	near, far, sign := p[2], p[3], 1.0
	if p[1] > p[2] {
		near, far, sign = p[1], p[0], -1.0
	}
	te := toneEnergy{energy: p[1] + p0 + p[2]}
	if far >= p0 {
		// The tone lies more than a bin away.
		return te
	}
	a0, a1 := math.Sqrt(p0), math.Sqrt(near)
	if a0+a1 == 0 {
		return te
	}
	delta := a1 / (a0 + a1)
	te.dev = sign * delta * d.bin / t.freq
	te.ok = math.Abs(te.dev) <= d.cfg.FreqTolerance
	return te
}

// classify returns the key index seen in window x, or -1. While a digit
// is active (hold), the energy and peak checks are relaxed so that speech
// or noise under a digit cannot split it in two (hysteresis).
func (d *Detector) classify(x []float32, hold bool) int {
	minRatio, peakRatio := d.cfg.MinEnergyRatio, d.peakRatio
	if hold {
		minRatio, peakRatio = minRatio/2, peakRatio/2
	}
	var e1, e2 float64
	half := len(x) / 2
	for _, v := range x[:half] {
		e1 += float64(v) * float64(v)
	}
	for _, v := range x[half:] {
		e2 += float64(v) * float64(v)
	}
	total := e1 + e2
	n := float64(len(x))
	// A digit starts only in windows it fills: both halves carry similar
	// energy. Tones shorter than about 23 ms never fill two windows.
	if !hold && (e1 < minBalance*e2 || e2 < minBalance*e1) {
		return -1
	}
	// Each tone needs peak² ≥ minAmp2, so mean power ≥ minAmp2 (two tones
	// of half that each): a quieter window cannot hold a digit.
	if total/n < d.minAmp2 {
		return -1
	}
	var all [8]float64
	powers8(&d.nom, x, &all)
	lp, hp := all[:4], all[4:]
	li, hi := 0, 0
	for i := range lp {
		if lp[i] > lp[li] {
			li = i
		}
		if hp[i] > hp[hi] {
			hi = i
		}
	}
	// Cheap rejection before the fine analysis: the two nominal bins must
	// already hold a fair share of the energy (|X|² ≈ N·E/2 for a tone).
	if (lp[li]+hp[hi])*2/n < 0.3*minRatio*total {
		return -1
	}
	var sc [8]float32
	var side [8]float64
	copy(sc[:4], coefs(&d.low[li]))
	copy(sc[4:], coefs(&d.high[hi]))
	powers8(&sc, x, &side)
	lt := d.analyse(&d.low[li], lp[li], side[:4])
	ht := d.analyse(&d.high[hi], hp[hi], side[4:])
	if !lt.ok || !ht.ok {
		return -1
	}
	// Level: peak² = 4|X|²/N² for a tone.
	k := 4 / (n * n)
	la2, ha2 := lt.energy*k, ht.energy*k
	if la2 < d.minAmp2 || ha2 < d.minAmp2 {
		return -1
	}
	// Twist.
	if ha2 > la2*d.normTwist || la2 > ha2*d.revTwist {
		return -1
	}
	// Each tone stands out in its group.
	for i := range lp {
		if i != li && lp[i]*peakRatio > lt.energy {
			return -1
		}
		if i != hi && hp[i]*peakRatio > ht.energy {
			return -1
		}
	}
	// The tones carry most of the energy (tone energy = 2|X|²/N).
	tones := (lt.energy + ht.energy) * 2 / n
	if tones < minRatio*total {
		return -1
	}
	// No strong second harmonic. The low group's harmonic bin is skipped
	// when it lies within two bins of the high tone, which leaks into it.
	both := lt.energy + ht.energy
	if float64(d.high[hi].harmonic.power(x)) > both*d.harmonicRatio {
		return -1
	}
	if math.Abs(2*d.low[li].freq-d.high[hi].freq) > 2*d.bin &&
		float64(d.low[li].harmonic.power(x)) > both*d.harmonicRatio {
		return -1
	}
	return li*4 + hi
}
