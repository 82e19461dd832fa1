package codecs

import (
	"errors"
	"math"
	"testing"
)

// zeroCrossFreq estimates a sine's frequency from its rising zero crossings.
func zeroCrossFreq(s []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i-1] < 0 && s[i] >= 0 {
			n++
		}
	}
	return float64(n) * float64(rate) / float64(len(s))
}

func TestToneFrequencyAndLevel(t *testing.T) {
	for _, tt := range []struct {
		name  string
		freq  float64
		level float64
	}{
		{"1000Hz -10dBm0", 1000, -10},
		{"400Hz -10dBm0", 400, -10},
		{"1000Hz 0dBm0", 1000, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewTone(8000, tt.freq, tt.level)
			if err != nil {
				t.Fatal(err)
			}
			// One second in 20 ms frames: phase must be continuous.
			pcm := make([]int16, 8000)
			for off := 0; off < len(pcm); off += 160 {
				g.Read(pcm[off : off+160])
			}
			if f := zeroCrossFreq(pcm, 8000); math.Abs(f-tt.freq) > 2 {
				t.Fatalf("frequency %v, want %v", f, tt.freq)
			}
			var sum float64
			for _, v := range pcm {
				sum += float64(v) * float64(v)
			}
			rms := math.Sqrt(sum / float64(len(pcm)))
			want := g.Amplitude() / math.Sqrt2
			if math.Abs(rms-want)/want > 0.01 {
				t.Fatalf("rms %v, want %v", rms, want)
			}
			// 0 dBm0 is about 22.8k peak in 16-bit G.711 scale.
			wantPeak := 32767 * math.Pow(10, (tt.level-3.17)/20)
			if math.Abs(g.Amplitude()-wantPeak) > 1 {
				t.Fatalf("amplitude %v want %v", g.Amplitude(), wantPeak)
			}
		})
	}
}

func TestToneBadParams(t *testing.T) {
	for _, tt := range []struct {
		name        string
		rate        int
		freq, level float64
	}{
		{"zero rate", 0, 1000, -10},
		{"above nyquist", 8000, 4000, -10},
		{"negative freq", 8000, -1, -10},
		{"NaN freq", 8000, math.NaN(), -10},
		{"too loud", 8000, 1000, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewTone(tt.rate, tt.freq, tt.level); !errors.Is(err, ErrToneParams) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func BenchmarkToneRead(b *testing.B) {
	g, err := NewTone(8000, 1000, -10)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]int16, 160)
	b.ReportAllocs()
	b.SetBytes(320)
	for b.Loop() {
		g.Read(buf)
	}
}
