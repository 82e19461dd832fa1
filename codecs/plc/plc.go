package plc

import (
	"fmt"
	"math"
	"time"
)

// Sizes at 8 kHz; doubled at 16 kHz.
const (
	minPitch8k = 40  // 200 Hz
	maxPitch8k = 120 // 66.7 Hz
	histLen8k  = 3*maxPitch8k + maxPitch8k/4
	corrLen8k  = 160 // samples correlated in the pitch search
	chunk8k    = 160 // largest piece moved through the history at once
	maxScale   = 2
)

// Concealer conceals lost frames of one stream. Call Good for every
// received frame and Lost for every missing one, in stream order; both
// write the audio to play into their argument. Frames may have any size.
// Not safe for concurrent use.
type Concealer struct {
	minPitch, maxPitch int
	delay              int // output delay in samples: maxPitch/4
	tenMs              int
	histLen, corrLen   int
	chunk              int

	// hist is the signal (received or concealed), newest last. Its last
	// delay samples have not been played yet.
	hist    [histLen8k * maxScale]float32
	scratch [chunk8k * maxScale]float32

	// Loss state.
	lost  int // samples concealed in the current loss (0: not in a loss)
	pitch int
	nper  int // periods replayed: 1, 2 or 3
	pos   int // position in the replayed periods
	ring  [3 * maxPitch8k * maxScale]float32

	events, samples uint64
}

// New returns a Concealer for PCM at 8000 or 16000 Hz.
func New(rate int) (*Concealer, error) {
	if rate != 8000 && rate != 16000 {
		return nil, fmt.Errorf("%w: %d Hz (want 8000 or 16000)", ErrRate, rate)
	}
	s := rate / 8000
	return &Concealer{
		minPitch: minPitch8k * s,
		maxPitch: maxPitch8k * s,
		delay:    maxPitch8k * s / 4,
		tenMs:    rate / 100,
		histLen:  histLen8k * s,
		corrLen:  corrLen8k * s,
		chunk:    chunk8k * s,
	}, nil
}

// Delay returns how far the output runs behind the input.
func (c *Concealer) Delay() time.Duration {
	return time.Duration(c.delay) * 10 * time.Millisecond / time.Duration(c.tenMs)
}

// DelaySamples returns Delay in samples.
func (c *Concealer) DelaySamples() int { return c.delay }

// Stats returns how many losses and lost samples were concealed.
func (c *Concealer) Stats() (events, samples uint64) { return c.events, c.samples }

// Good takes a received frame and replaces it, in place, with the audio
// to play (the stream Delay earlier; the first samples after a loss are
// cross-faded with the concealment).
func (c *Concealer) Good(frame []int16) {
	for len(frame) > 0 {
		n := min(len(frame), c.chunk)
		x := c.scratch[:n]
		for i, v := range frame[:n] {
			x[i] = float32(v)
		}
		if c.lost > 0 {
			c.resume(x)
		}
		c.shiftIn(x, frame[:n])
		frame = frame[n:]
	}
}

// Lost fills dst with concealment for a missing frame of len(dst) samples.
func (c *Concealer) Lost(dst []int16) {
	for len(dst) > 0 {
		n := min(len(dst), c.chunk)
		if c.lost == 0 {
			c.begin()
		}
		x := c.scratch[:n]
		for i := range x {
			x[i] = c.next()
		}
		c.samples += uint64(n)
		c.shiftIn(x, dst[:n])
		dst = dst[n:]
	}
}

// shiftIn appends src to the history and writes the samples that leave
// the delay line to out.
func (c *Concealer) shiftIn(src []float32, out []int16) {
	h := c.hist[:c.histLen]
	n := len(src)
	copy(h, h[n:])
	copy(h[len(h)-n:], src)
	played := h[len(h)-c.delay-n : len(h)-c.delay]
	for i, v := range played {
		out[i] = int16(max(-32768, min(32767, math.Round(float64(v)))))
	}
}

// begin starts a loss: estimate the pitch, smooth the join, load the ring.
func (c *Concealer) begin() {
	c.events++
	h := c.hist[:c.histLen]
	H := len(h)
	p := c.estimatePitch()
	c.pitch = p
	// Make the last quarter period lead into the sample one period back,
	// so the replay of the last period joins smoothly. Those samples have
	// not been played yet (p/4 ≤ delay).
	l := p / 4
	for i := 0; i < l; i++ {
		w := float32(i+1) / float32(l+1)
		h[H-l+i] = (1-w)*h[H-l+i] + w*h[H-p-l+i]
	}
	copy(c.ring[:3*p], h[H-3*p:])
	c.nper = 1
	c.pos = 0
}

// next returns the next concealment sample.
func (c *Concealer) next() float32 {
	p := c.pitch
	switch c.lost {
	case c.tenMs, 2 * c.tenMs:
		// Widen the replay by one period, keeping the phase.
		c.nper++
		c.pos += p
	}
	span := c.nper * p
	v := c.ring[3*p-span+c.pos]
	c.pos++
	if c.pos == span {
		c.pos = 0
	}
	// Full level for 10 ms, then down by 20 % per 10 ms: silent at 60 ms.
	g := float32(1)
	if c.lost >= c.tenMs {
		g = 1 - 0.2*float32(c.lost-c.tenMs)/float32(c.tenMs)
		if g < 0 {
			g = 0
		}
	}
	c.lost++
	return g * v
}

// resume cross-fades the first received samples x with the continuing
// concealment and ends the loss.
func (c *Concealer) resume(x []float32) {
	r := c.pitch/4 + (c.lost-1)/c.tenMs*c.tenMs*4/10
	r = min(r, c.tenMs, len(x))
	for i := 0; i < r; i++ {
		w := float32(i+1) / float32(r+1)
		x[i] = w*x[i] + (1-w)*c.next()
	}
	c.lost = 0
}

// estimatePitch returns the lag in [minPitch, maxPitch] that maximises
// the normalised correlation of the newest corrLen samples with the past.
// At 16 kHz a search on every other sample finds the region and a full-rate
// search of ±2 lags around it refines it, at the cost of the 8 kHz search.
func (c *Concealer) estimatePitch() int {
	step := c.minPitch / minPitch8k
	if step == 1 {
		return c.searchPitch(c.minPitch, c.maxPitch, 1)
	}
	coarse := c.searchPitch(c.minPitch, c.maxPitch, step)
	return c.searchPitch(max(c.minPitch, coarse-step), min(c.maxPitch, coarse+step), 1)
}

// searchPitch scores lags lo..hi (every step-th lag, every step-th sample).
func (c *Concealer) searchPitch(lo, hi, step int) int {
	h := c.hist[:c.histLen]
	H := len(h)
	best, bestScore := hi, float32(-1)
	for p := lo; p <= hi; p += step {
		var num, den float32
		for i := H - c.corrLen; i < H; i += step {
			v, l := h[i], h[i-p]
			num += v * l
			den += l * l
		}
		if den <= 0 || num <= 0 {
			continue
		}
		if s := num * num / den; s > bestScore {
			best, bestScore = p, s
		}
	}
	return best
}
