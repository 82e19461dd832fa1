package audiocheck

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAnalyse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name            string
		rate            int
		freq, amp, nois float64
		minSNR, maxSNR  float64
	}{
		{"clean 1 kHz at 8 kHz", 8000, 1000, 10000, 0, 60, 200},
		{"noisy 1 kHz at 8 kHz", 8000, 1000, 10000, 707, 19, 21},
		{"440 Hz at 16 kHz", 16000, 440, 3000, 30, 36, 44},
		{"1 kHz at 48 kHz", 48000, 1000, 5000, 50, 31, 37},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := Sine(tc.rate, 7, tc.rate, tc.freq, tc.amp)
			for i := range x {
				x[i] += int16(tc.nois * r.NormFloat64())
			}
			got := Analyse(x, tc.rate)
			if math.Abs(got.Freq-tc.freq) > 0.5 {
				t.Errorf("freq %.2f, want %.0f", got.Freq, tc.freq)
			}
			if math.Abs(DB(got.Amplitude, tc.amp)) > 0.1 {
				t.Errorf("amplitude %.0f, want %.0f", got.Amplitude, tc.amp)
			}
			if got.SNR < tc.minSNR || got.SNR > tc.maxSNR {
				t.Errorf("SNR %.1f dB, want %.0f..%.0f", got.SNR, tc.minSNR, tc.maxSNR)
			}
		})
	}
	if got := Analyse(make([]int16, 800), 8000); got.Amplitude != 0 {
		t.Errorf("silence analysed as %+v", got)
	}
}

func TestOnset(t *testing.T) {
	x := append(make([]int16, 100), Sine(8000, 0, 100, 1000, 8000)...)
	if got := Onset(x, 4000); got < 100 || got > 102 {
		t.Errorf("onset %d, want 100..102", got)
	}
	if got := Onset(make([]int16, 10), 1); got != -1 {
		t.Errorf("onset in silence %d", got)
	}
}
