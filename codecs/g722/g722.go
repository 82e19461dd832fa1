package g722

import "fmt"

const (
	// SampleRate is the audio sample rate of G.722.
	SampleRate = 16000
	// RTPClockRate is the RTP timestamp rate registered for G.722
	// (RFC 3551): 8000, half the audio rate.
	RTPClockRate = 8000
	// PayloadType is the static RTP payload type of G.722.
	PayloadType = 9
	// BytesPerFrame20ms is the payload of a 20 ms frame at 64 kbit/s.
	BytesPerFrame20ms = 160
)

// Tables of the recommendation (G.722 section 4 / tables 6-9 and 14-15).
var (
	// qmf holds the 12 distinct QMF coefficients h0..h11 (h(23-i) = h(i)).
	qmf = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}

	// q6 holds the lower sub-band quantiser decision levels (scaled by 8).
	q6 = [31]int32{0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650,
		714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0}
	// iln and ilp map a decision interval to the 6-bit code for a negative
	// and a positive difference.
	iln = [32]int32{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
		16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0}
	ilp = [32]int32{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45,
		44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0}

	// qm4 is the 4-bit inverse quantiser of the lower sub-band predictor
	// loop; qm6 the 6-bit one used for the 64 kbit/s output.
	qm4 = [16]int32{0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
		20456, 12896, 8968, 6288, 4240, 2584, 1200, 0}
	qm6 = [64]int32{-136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512,
		-12280, -11192, -10232, -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464,
		-4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904,
		19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000,
		5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136,
		-432, -136}
	// rl42 folds a 4-bit code to its magnitude class; wl is the lower
	// sub-band log scale factor multiplier per class.
	rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
	// ilb is the inverse log2 table (2048·2^(i/32)) of the scale factor
	// adaptation.
	ilb = [32]int32{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599,
		2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520,
		3597, 3676, 3756, 3838, 3922, 4008}

	// Upper sub-band: 2-bit quantiser codes, inverse quantiser and log
	// scale factor multipliers.
	ihn = [3]int32{0, 1, 0}
	ihp = [3]int32{0, 3, 2}
	qm2 = [4]int32{-7408, -1616, 7408, 1616}
	rh2 = [4]int32{2, 1, 2, 1}
	wh  = [3]int32{0, -214, 798}
)

// sat16 limits v to the 16-bit two's complement range.
func sat16(v int32) int32 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return v
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi int32) int32 {
	if v > hi {
		return hi
	}
	if v < lo {
		return lo
	}
	return v
}

// band is the adaptive predictor and scale factor state of one sub-band.
// Index 0 of the history arrays is the current sample, 1 the previous.
type band struct {
	s   int32    // predicted signal (sp + sz)
	sp  int32    // pole section output
	sz  int32    // zero section output
	det int32    // quantiser scale factor
	nb  int32    // log scale factor
	r   [3]int32 // reconstructed signal history
	p   [3]int32 // partially reconstructed signal history
	a   [3]int32 // pole coefficients a1, a2 (index 0 unused)
	ap  [3]int32 // pole coefficients being adapted
	b   [7]int32 // zero coefficients b1..b6 (index 0 unused)
	bp  [7]int32 // zero coefficients being adapted
	d   [7]int32 // quantised difference history
	sg  [7]int32 // sign scratch
}

// scale converts the log scale factor nb into the linear det (blocks
// SCALEL/SCALEH); shift is 8 for the lower and 10 for the upper band.
func (b *band) scale(shift int32) {
	wd1 := (b.nb >> 6) & 31
	wd2 := shift - (b.nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = ilb[wd1] << uint(-wd2)
	} else {
		wd3 = ilb[wd1] >> uint(wd2)
	}
	b.det = wd3 << 2
}

// adaptLow updates the lower band log scale factor (block LOGSCL) from the
// 6-bit code's top four bits.
func (b *band) adaptLow(ril int32) {
	nb := (b.nb*127)>>7 + wl[rl42[ril]]
	b.nb = clamp(nb, 0, 18432)
	b.scale(8)
}

// adaptHigh updates the upper band log scale factor (block LOGSCH).
func (b *band) adaptHigh(ih int32) {
	nb := (b.nb*127)>>7 + wh[rh2[ih]]
	b.nb = clamp(nb, 0, 22528)
	b.scale(10)
}

// predict runs the common blocks of both bands for one quantised
// difference d: reconstruction, pole and zero adaptation, delay line and
// the next prediction (blocks RECONS, PARREC, UPPOL2, UPPOL1, UPZERO,
// DELAYA, FILTEP, FILTEZ, PREDIC).
func (b *band) predict(d int32) {
	b.d[0] = d
	b.r[0] = sat16(b.s + d)
	b.p[0] = sat16(b.sz + d)

	// UPPOL2: second pole coefficient.
	for i := 0; i < 3; i++ {
		b.sg[i] = b.p[i] >> 15
	}
	wd1 := sat16(b.a[1] << 2)
	wd2 := wd1
	if b.sg[0] == b.sg[1] {
		wd2 = -wd1
	}
	if wd2 > 32767 {
		wd2 = 32767
	}
	wd3 := int32(-128)
	if b.sg[0] == b.sg[2] {
		wd3 = 128
	}
	wd3 += wd2 >> 7
	wd3 += (b.a[2] * 32512) >> 15
	b.ap[2] = clamp(wd3, -12288, 12288)

	// UPPOL1: first pole coefficient, kept inside the stability triangle.
	wd1 = -192
	if b.sg[0] == b.sg[1] {
		wd1 = 192
	}
	b.ap[1] = sat16(wd1 + (b.a[1]*32640)>>15)
	lim := sat16(15360 - b.ap[2])
	b.ap[1] = clamp(b.ap[1], -lim, lim)

	// UPZERO: sixth-order zero section.
	step := int32(128)
	if d == 0 {
		step = 0
	}
	b.sg[0] = d >> 15
	for i := 1; i < 7; i++ {
		b.sg[i] = b.d[i] >> 15
		w := step
		if b.sg[i] != b.sg[0] {
			w = -step
		}
		b.bp[i] = sat16(w + (b.b[i]*32640)>>15)
	}

	// DELAYA: shift the histories.
	for i := 6; i > 0; i-- {
		b.d[i] = b.d[i-1]
		b.b[i] = b.bp[i]
	}
	for i := 2; i > 0; i-- {
		b.r[i] = b.r[i-1]
		b.p[i] = b.p[i-1]
		b.a[i] = b.ap[i]
	}

	// FILTEP: pole section.
	wd1 = (b.a[1] * sat16(b.r[1]+b.r[1])) >> 15
	wd2 = (b.a[2] * sat16(b.r[2]+b.r[2])) >> 15
	b.sp = sat16(wd1 + wd2)

	// FILTEZ: zero section.
	var sz int32
	for i := 6; i > 0; i-- {
		sz += (b.b[i] * sat16(b.d[i]+b.d[i])) >> 15
	}
	b.sz = sat16(sz)

	// PREDIC
	b.s = sat16(b.sp + b.sz)
}

// state is what encoder and decoder share: the two bands and the QMF delay
// line (24 taps; each step shifts in two samples).
type state struct {
	bands [2]band
	x     [24]int32
}

func (s *state) reset() {
	*s = state{}
	s.bands[0].det = 32
	s.bands[1].det = 8
}

// Encoder encodes 16 kHz PCM to G.722. The zero value is not ready: use
// NewEncoder. It is not safe for concurrent use.
type Encoder struct{ st state }

// NewEncoder returns an encoder in its initial state.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.Reset()
	return e
}

// Reset returns the encoder to its initial state.
func (e *Encoder) Reset() { e.st.reset() }

// Encode encodes pcm (an even number of 16 kHz samples) into dst, one byte
// per two samples, and returns the bytes written.
func (e *Encoder) Encode(dst []byte, pcm []int16) (int, error) {
	if len(pcm)%2 != 0 {
		return 0, fmt.Errorf("%w: %d", ErrOddSamples, len(pcm))
	}
	n := len(pcm) / 2
	if len(dst) < n {
		return 0, fmt.Errorf("%w: %d bytes for %d samples", ErrShortBuffer, len(dst), len(pcm))
	}
	s := &e.st
	lo, hi := &s.bands[0], &s.bands[1]
	for j := 0; j < n; j++ {
		// Transmit QMF: split two input samples into one low and one
		// high band sample.
		copy(s.x[:22], s.x[2:])
		s.x[22] = int32(pcm[2*j])
		s.x[23] = int32(pcm[2*j+1])
		var sumOdd, sumEven int32
		for i := 0; i < 12; i++ {
			sumOdd += s.x[2*i] * qmf[i]
			sumEven += s.x[2*i+1] * qmf[11-i]
		}
		xl := (sumEven + sumOdd) >> 14
		xh := (sumEven - sumOdd) >> 14

		// Lower sub-band: 6-bit adaptive quantiser (SUBTRA, QUANTL).
		el := sat16(xl - lo.s)
		wd := el
		if el < 0 {
			wd = -(el + 1)
		}
		i := 1
		for ; i < 30; i++ {
			if wd < (q6[i]*lo.det)>>12 {
				break
			}
		}
		il := ilp[i]
		if el < 0 {
			il = iln[i]
		}
		ril := il >> 2
		dl := (lo.det * qm4[ril]) >> 15 // INVQAL
		lo.adaptLow(ril)
		lo.predict(dl)

		// Upper sub-band: 2-bit adaptive quantiser (SUBTRA, QUANTH).
		eh := sat16(xh - hi.s)
		wd = eh
		if eh < 0 {
			wd = -(eh + 1)
		}
		mih := 1
		if wd >= (564*hi.det)>>12 {
			mih = 2
		}
		ih := ihp[mih]
		if eh < 0 {
			ih = ihn[mih]
		}
		dh := (hi.det * qm2[ih]) >> 15 // INVQAH
		hi.adaptHigh(ih)
		hi.predict(dh)

		dst[j] = byte(ih<<6 | il)
	}
	return n, nil
}

// Decoder decodes G.722 to 16 kHz PCM. The zero value is not ready: use
// NewDecoder. It is not safe for concurrent use.
//
// The receive QMF can exceed 16 bits on full-scale input or arbitrary
// codewords; the decoder saturates there. (spandsp 0.0.6 truncates to
// 16 bits instead, which wraps a loud peak to the opposite sign; the tests
// check that saturation is the only difference.)
type Decoder struct {
	st   state
	wrap bool // truncate instead of saturate, as spandsp does (tests only)
}

// NewDecoder returns a decoder in its initial state.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.Reset()
	return d
}

// Reset returns the decoder to its initial state.
func (d *Decoder) Reset() { d.st.reset() }

// Decode decodes code into dst, two 16 kHz samples per byte, and returns
// the samples written. Every byte value is a valid codeword.
func (d *Decoder) Decode(dst []int16, code []byte) (int, error) {
	if len(dst) < 2*len(code) {
		return 0, fmt.Errorf("%w: %d samples for %d bytes", ErrShortBuffer, len(dst), len(code))
	}
	s := &d.st
	lo, hi := &s.bands[0], &s.bands[1]
	for j, c := range code {
		il := int32(c & 0x3f)
		ih := int32(c >> 6)

		// Lower sub-band: 6-bit inverse quantiser for the output
		// (INVQBL, RECONS, LIMIT), 4-bit one for the predictor (INVQAL).
		rl := clamp(lo.s+(lo.det*qm6[il])>>15, -16384, 16383)
		ril := il >> 2
		dl := (lo.det * qm4[ril]) >> 15
		lo.adaptLow(ril)
		lo.predict(dl)

		// Upper sub-band (INVQAH, RECONS, LIMIT).
		dh := (hi.det * qm2[ih]) >> 15
		rh := clamp(dh+hi.s, -16384, 16383)
		hi.adaptHigh(ih)
		hi.predict(dh)

		// Receive QMF: two output samples from one sample per band.
		copy(s.x[:22], s.x[2:])
		s.x[22] = rl + rh
		s.x[23] = rl - rh
		var out1, out2 int32
		for i := 0; i < 12; i++ {
			out2 += s.x[2*i] * qmf[i]
			out1 += s.x[2*i+1] * qmf[11-i]
		}
		out1 >>= 11
		out2 >>= 11
		if !d.wrap {
			out1, out2 = sat16(out1), sat16(out2)
		}
		dst[2*j] = int16(out1)
		dst[2*j+1] = int16(out2)
	}
	return 2 * len(code), nil
}
