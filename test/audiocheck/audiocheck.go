// Package audiocheck measures test tones in decoded audio: frequency,
// amplitude, signal-to-noise ratio and onset. Tests of the media plane use
// it to assert that a tone survived a transcoded or recorded call.
package audiocheck

import (
	"math"
)

// Sine returns n samples of a freq Hz sine with peak amp at rate, starting
// at sample offset start (so consecutive calls continue the same wave).
func Sine(rate, start, n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/float64(rate))))
	}
	return out
}

// Tone is what Analyse found.
type Tone struct {
	// Freq is the fitted frequency in Hz.
	Freq float64
	// Amplitude is the fitted peak amplitude (full scale 32767).
	Amplitude float64
	// SNR is the fitted sine's power over the residual's, in dB.
	SNR float64
}

// fit returns the least-squares amplitude of a sine at f (with a DC
// term) over x and the residual power.
func fit(x []int16, rate int, f float64) (amp, resid float64) {
	var ss, cc, sc, sy, cy, s1, c1, y1, yy float64
	n := float64(len(x))
	w := 2 * math.Pi * f / float64(rate)
	for i, v := range x {
		s, c := math.Sincos(w * float64(i))
		y := float64(v)
		ss += s * s
		cc += c * c
		sc += s * c
		sy += s * y
		cy += c * y
		s1 += s
		c1 += c
		y1 += y
		yy += y * y
	}
	// Solve the 3x3 normal equations for y = a sin + b cos + d.
	m := [3][4]float64{{ss, sc, s1, sy}, {sc, cc, c1, cy}, {s1, c1, n, y1}}
	for col := 0; col < 3; col++ {
		piv := col
		for r := col + 1; r < 3; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
				piv = r
			}
		}
		m[col], m[piv] = m[piv], m[col]
		if m[col][col] == 0 {
			return 0, yy / n
		}
		for r := 0; r < 3; r++ {
			if r == col {
				continue
			}
			k := m[r][col] / m[col][col]
			for j := col; j < 4; j++ {
				m[r][j] -= k * m[col][j]
			}
		}
	}
	a, b, d := m[0][3]/m[0][0], m[1][3]/m[1][1], m[2][3]/m[2][2]
	var r float64
	for i, v := range x {
		s, c := math.Sincos(w * float64(i))
		e := float64(v) - (a*s + b*c + d)
		r += e * e
	}
	return math.Hypot(a, b), r / n
}

// Analyse fits the strongest sine in x (sampled at rate) and reports it.
// x should hold at least a few hundred periods of the tone.
func Analyse(x []int16, rate int) Tone {
	if len(x) < 16 {
		return Tone{}
	}
	// Coarse estimate from interpolated zero crossings.
	var mean float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	first, last, crossings := -1.0, -1.0, 0
	for i := 1; i < len(x); i++ {
		a, b := float64(x[i-1])-mean, float64(x[i])-mean
		if a < 0 && b >= 0 {
			t := float64(i-1) + a/(a-b)
			if first < 0 {
				first = t
			} else {
				crossings++
			}
			last = t
		}
	}
	if crossings == 0 {
		return Tone{}
	}
	f0 := float64(crossings) * float64(rate) / (last - first)
	best := Tone{Freq: f0}
	bestResid := math.Inf(1)
	for step := 1.0; step >= 0.01; step /= 10 {
		centre := best.Freq
		for k := -10; k <= 10; k++ {
			f := centre + float64(k)*step
			if f <= 0 {
				continue
			}
			amp, resid := fit(x, rate, f)
			if resid < bestResid {
				bestResid = resid
				best = Tone{Freq: f, Amplitude: amp}
			}
		}
	}
	sig := best.Amplitude * best.Amplitude / 2
	best.SNR = 10 * math.Log10(sig/math.Max(bestResid, 1e-9))
	return best
}

// Onset returns the index of the first sample whose magnitude reaches
// threshold, or -1.
func Onset(x []int16, threshold int) int {
	for i, v := range x {
		if int(v) >= threshold || -int(v) >= threshold {
			return i
		}
	}
	return -1
}

// DB returns 20*log10(a/b).
func DB(a, b float64) float64 { return 20 * math.Log10(a/b) }
