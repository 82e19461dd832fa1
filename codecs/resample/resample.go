package resample

import (
	"fmt"
	"math"
	"time"
)

// Filter design, shared by every ratio. The band edges are relative to the
// lower of the two rates.
const (
	passEdge    = 0.45 // passband edge, fraction of the lower rate
	stopEdge    = 0.50 // stopband edge: the lower rate's Nyquist frequency
	attenuation = 66.0 // Kaiser design attenuation, dB
	chunk       = 480  // input samples filtered per inner pass
)

// Resampler converts a stream of 16-bit mono PCM from one rate to another
// with a windowed-sinc polyphase FIR. It keeps the filter history across
// calls, so frames of any size join seamlessly. It is not safe for
// concurrent use.
type Resampler struct {
	in, out int // rates, Hz
	up      int // L: interpolation factor
	down    int // M: decimation factor
	taps    int // K: taps per polyphase branch
	delay   int // filter group delay in samples at in*L (a multiple of L*M)
	coef    []float32
	buf     []float32 // taps-1 history samples, then up to chunk new ones
	t       int       // position of the next output, in units of 1/(in*L) s, relative to the first new sample
}

var supported = map[int]bool{8000: true, 16000: true, 48000: true}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// New returns a resampler from inRate to outRate (each 8000, 16000 or
// 48000 Hz). Equal rates give a pass-through with zero latency.
func New(inRate, outRate int) (*Resampler, error) {
	if !supported[inRate] || !supported[outRate] {
		return nil, fmt.Errorf("%w: %d Hz to %d Hz (want 8000, 16000 or 48000)", ErrRate, inRate, outRate)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{in: inRate, out: outRate, up: outRate / g, down: inRate / g}
	r.design()
	r.buf = make([]float32, r.taps-1+chunk)
	return r, nil
}

// design builds the polyphase filter bank: a Kaiser-windowed sinc at the
// interpolated rate in*L, split into L branches of K taps stored in
// reverse so each output is a forward dot product over the input.
func (r *Resampler) design() {
	if r.up == 1 && r.down == 1 {
		r.taps = 1
		r.coef = []float32{1}
		return
	}
	high := float64(r.in * r.up)
	low := float64(min(r.in, r.out))
	width := (stopEdge - passEdge) * low / high // transition, cycles per sample
	n := int(math.Ceil((attenuation - 7.95) / (2.285 * 2 * math.Pi * width)))
	step := r.up * r.down
	half := (n/2 + step - 1) / step * step // group delay, a multiple of L*M
	length := 2*half + 1
	r.delay = half
	r.taps = (length + r.up - 1) / r.up
	beta := 0.1102 * (attenuation - 8.7)
	fc := (passEdge + stopEdge) / 2 * low / high // cutoff, cycles per sample
	i0b := besselI0(beta)
	h := make([]float64, r.taps*r.up)
	for i := 0; i < length; i++ {
		x := float64(i - half)
		sinc := 2 * fc
		if x != 0 {
			sinc = math.Sin(2*math.Pi*fc*x) / (math.Pi * x)
		}
		w := x / float64(half)
		h[i] = sinc * besselI0(beta*math.Sqrt(1-w*w)) / i0b * float64(r.up)
	}
	r.coef = make([]float32, r.up*r.taps)
	for p := 0; p < r.up; p++ {
		for j := 0; j < r.taps; j++ {
			r.coef[p*r.taps+j] = float32(h[p+(r.taps-1-j)*r.up])
		}
	}
}

// besselI0 is the zeroth-order modified Bessel function of the first kind.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

// InRate returns the input sample rate.
func (r *Resampler) InRate() int { return r.in }

// OutRate returns the output sample rate.
func (r *Resampler) OutRate() int { return r.out }

// Delay returns the fixed latency in output samples: output sample m
// corresponds to the input at time (m - Delay())/OutRate. It is an exact
// integer, also in input samples (Latency times InRate).
func (r *Resampler) Delay() int { return r.delay / r.down }

// Latency returns the fixed latency as a duration.
func (r *Resampler) Latency() time.Duration {
	return time.Duration(r.delay) * time.Second / time.Duration(r.in*r.up)
}

// TapsPerPhase returns the FIR length of one polyphase branch.
func (r *Resampler) TapsPerPhase() int { return r.taps }

// OutputLen returns how many samples the next Process call produces from n
// input samples. As long as every call passes a whole number of
// milliseconds (e.g. 10 or 20 ms frames) it is exactly n*OutRate/InRate.
func (r *Resampler) OutputLen(n int) int {
	span := n * r.up
	if n <= 0 || r.t >= span {
		return 0
	}
	return (span - r.t + r.down - 1) / r.down
}

// Reset clears the filter history, as for a new stream.
func (r *Resampler) Reset() {
	clear(r.buf)
	r.t = 0
}

// Process resamples src into dst and returns the samples written, which is
// OutputLen(len(src)). It does not allocate.
func (r *Resampler) Process(dst, src []int16) (int, error) {
	want := r.OutputLen(len(src))
	if len(dst) < want {
		return 0, fmt.Errorf("%w: %d samples, need %d", ErrShortBuffer, len(dst), want)
	}
	if r.up == 1 && r.down == 1 {
		return copy(dst, src), nil
	}
	k := r.taps
	written := 0
	for len(src) > 0 {
		n := min(len(src), chunk)
		x := r.buf[:k-1+n]
		for i, v := range src[:n] {
			x[k-1+i] = float32(v)
		}
		// Output position t = i*L + p: input index i, branch p.
		i, p := r.t/r.up, r.t%r.up
		stepI, stepP := r.down/r.up, r.down%r.up
		for i < n {
			dst[written] = toInt16(dot(r.coef[p*k:(p+1)*k], x[i:i+k]))
			written++
			i += stepI
			p += stepP
			if p >= r.up {
				p -= r.up
				i++
			}
		}
		r.t = (i-n)*r.up + p
		copy(r.buf, x[n:])
		src = src[n:]
	}
	return written, nil
}

// dot is a four-way unrolled float32 dot product of equal-length slices.
func dot(c, x []float32) float32 {
	x = x[:len(c)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		s0 += c[i] * x[i]
		s1 += c[i+1] * x[i+1]
		s2 += c[i+2] * x[i+2]
		s3 += c[i+3] * x[i+3]
	}
	for ; i < len(c); i++ {
		s0 += c[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// toInt16 rounds and saturates.
func toInt16(v float32) int16 {
	if v >= 32767 {
		return 32767
	}
	if v <= -32768 {
		return -32768
	}
	if v < 0 {
		return int16(v - 0.5)
	}
	return int16(v + 0.5)
}
