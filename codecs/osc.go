package codecs

import "math"

// Oscillator is a sine oscillator kept as a rotating phasor: one complex
// multiplication per sample instead of a sine. Call Renorm once per frame
// so that rounding cannot make its amplitude drift. The zero value is
// silent; make one with NewOscillator.
type Oscillator struct {
	re, im float64 // current phasor; im is the output
	cr, ci float64 // rotation per sample
}

// NewOscillator returns an oscillator of freq Hz at rate samples per
// second, starting at phase 0.
func NewOscillator(freq float64, rate int) Oscillator {
	w := 2 * math.Pi * freq / float64(rate)
	return Oscillator{re: 1, cr: math.Cos(w), ci: math.Sin(w)}
}

// Next returns the sine of the current phase (-1..1) and advances.
func (o *Oscillator) Next() float64 {
	s := o.im
	o.re, o.im = o.re*o.cr-o.im*o.ci, o.re*o.ci+o.im*o.cr
	return s
}

// Renorm brings the phasor back to unit length.
func (o *Oscillator) Renorm() {
	m := 1 / math.Sqrt(o.re*o.re+o.im*o.im)
	o.re *= m
	o.im *= m
}
