package cn

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

func levelDB(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return -10 * math.Log10(s/float64(len(pcm))/fullScale2)
}

// bandRatio returns the energy below 1 kHz over the energy above 2 kHz
// per DFT bin (8 kHz PCM), in dB, from 64-point DFTs over the signal.
func bandRatio(pcm []int16) float64 {
	var lo, hi float64
	var nlo, nhi int
	const n = 64
	for off := 0; off+n <= len(pcm); off += n {
		for k := 1; k < n/2; k++ {
			var re, im float64
			for i := 0; i < n; i++ {
				w := 2 * math.Pi * float64(k*i) / n
				re += float64(pcm[off+i]) * math.Cos(w)
				im -= float64(pcm[off+i]) * math.Sin(w)
			}
			f := float64(k) * 8000 / n
			switch {
			case f < 1000:
				lo += re*re + im*im
				nlo++
			case f > 2000:
				hi += re*re + im*im
				nhi++
			}
		}
	}
	return 10 * math.Log10(lo/float64(nlo)*float64(nhi)/hi)
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    []byte
		level uint8
		k     []float64
		err   error
	}{
		{"level only", []byte{40}, 40, nil, nil},
		{"top bit ignored", []byte{0x80 | 60}, 60, nil, nil},
		{"two coefficients", []byte{50, 127, 255}, 50, []float64{0, 127.0 / 128}, nil},
		{"negative", []byte{30, 0, 63}, 30, []float64{-127.0 / 128, -0.5}, nil},
		{"truncated to MaxOrder", append([]byte{10}, bytes.Repeat([]byte{191}, 20)...), 10, []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, nil},
		{"empty", nil, 0, nil, ErrEmpty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if p.Level != tt.level || p.Order != len(tt.k) {
				t.Fatalf("got level %d order %d", p.Level, p.Order)
			}
			for i, k := range tt.k {
				if p.K[i] != k {
					t.Fatalf("k%d = %v, want %v", i+1, p.K[i], k)
				}
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	p := Payload{Level: 55, Order: 3, K: [MaxOrder]float64{0.5, -0.25, 0.9}}
	b, err := p.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{55, 191, 95, 242}; !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
	back, err := Parse(b)
	if err != nil || back != p.Quantised() {
		t.Fatalf("round trip %+v %v", back, err)
	}
	for _, bad := range []Payload{{Level: 128}, {Order: -1}, {Order: MaxOrder + 1}, {Order: 1, K: [MaxOrder]float64{1}}, {Order: 1, K: [MaxOrder]float64{math.NaN()}}} {
		if _, err := bad.Append(nil); !errors.Is(err, ErrParams) {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := p.Put(make([]byte, 3)); !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("short buffer: %v", err)
	}
	buf := make([]byte, 8)
	if n, err := p.Put(buf); err != nil || n != 4 || !bytes.Equal(buf[:4], b) {
		t.Fatalf("Put: %d %v", n, err)
	}
}

func TestGeneratorLevel(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    Payload
	}{
		{"white -30", Payload{Level: 30}},
		{"white -50", Payload{Level: 50}},
		{"white -70", Payload{Level: 70}},
		{"lowpass -40", Payload{Level: 40, Order: 2, K: [MaxOrder]float64{-0.8, 0.3}}},
		{"highpass -45", Payload{Level: 45, Order: 1, K: [MaxOrder]float64{0.7}}},
		{"order 10 -60", Payload{Level: 60, Order: 10, K: [MaxOrder]float64{-0.9, 0.6, -0.3, 0.2, -0.1, 0.1, -0.05, 0.05, 0, 0.02}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGenerator(42)
			if err := g.Set(tt.p); err != nil {
				t.Fatal(err)
			}
			pcm := make([]int16, 16000)
			for off := 0; off < len(pcm); off += 160 {
				g.Read(pcm[off : off+160])
			}
			if got := levelDB(pcm); math.Abs(got-float64(tt.p.Level)) > 1 {
				t.Fatalf("level -%.2f dBov, want -%d", got, tt.p.Level)
			}
		})
	}
}

func TestGeneratorShape(t *testing.T) {
	g := NewGenerator(1)
	pcm := make([]int16, 16000)
	white := func() float64 { g.Read(pcm); return bandRatio(pcm) }
	_ = g.Set(Payload{Level: 30})
	w := white()
	_ = g.Set(Payload{Level: 30, Order: 1, K: [MaxOrder]float64{-0.8}})
	low := white()
	_ = g.Set(Payload{Level: 30, Order: 1, K: [MaxOrder]float64{0.8}})
	high := white()
	if math.Abs(w) > 1.5 {
		t.Errorf("white noise band ratio %.1f dB", w)
	}
	if low < 10 {
		t.Errorf("k1=-0.8 (low-pass) band ratio %.1f dB, want > 10", low)
	}
	if high > -10 {
		t.Errorf("k1=+0.8 (high-pass) band ratio %.1f dB, want < -10", high)
	}
}

func TestEstimate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		p     Payload
		order int
	}{
		{"white -35", Payload{Level: 35}, 4},
		{"ar2 -45", Payload{Level: 45, Order: 2, K: [MaxOrder]float64{-0.7, 0.4}}, 2},
		{"ar2 -45 order 10", Payload{Level: 45, Order: 2, K: [MaxOrder]float64{-0.7, 0.4}}, 10},
		{"ar4 -55", Payload{Level: 55, Order: 4, K: [MaxOrder]float64{0.5, -0.3, 0.2, -0.1}}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGenerator(7)
			if err := g.Set(tt.p); err != nil {
				t.Fatal(err)
			}
			pcm := make([]int16, 8000)
			g.Read(pcm)
			est, err := Estimate(pcm, tt.order)
			if err != nil {
				t.Fatal(err)
			}
			if d := int(est.Level) - int(tt.p.Level); d < -1 || d > 1 {
				t.Fatalf("level -%d, want -%d±1", est.Level, tt.p.Level)
			}
			for i := 0; i < tt.order; i++ {
				if math.Abs(est.K[i]-tt.p.K[i]) > 0.06 {
					t.Fatalf("k%d = %.3f, want %.3f", i+1, est.K[i], tt.p.K[i])
				}
			}
			// Round trip: regenerate from the quantised estimate.
			b, err := est.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			rx, _ := Parse(b)
			g2 := NewGenerator(99)
			_ = g2.Set(rx)
			out := make([]int16, 16000)
			g2.Read(out)
			if d := levelDB(out) - levelDB(pcm); math.Abs(d) > 1 {
				t.Fatalf("regenerated level off by %.2f dB", d)
			}
			if d := bandRatio(out) - bandRatio(pcm); math.Abs(d) > 2 {
				t.Fatalf("regenerated spectrum tilt off by %.2f dB", d)
			}
		})
	}
}

func TestEstimateEdges(t *testing.T) {
	p, err := Estimate(make([]int16, 160), 10)
	if err != nil || p.Level != MaxLevel || p.Order != 0 {
		t.Fatalf("silence: %+v %v", p, err)
	}
	full := make([]int16, 160)
	for i := range full {
		full[i] = 32767
		if i%2 == 1 {
			full[i] = -32767
		}
	}
	if p, _ := Estimate(full, 0); p.Level != 0 {
		t.Fatalf("full-scale square: level %d", p.Level)
	}
	// A pure tone must still give a stable, encodable filter.
	tone := make([]int16, 160)
	for i := range tone {
		tone[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	p, err = Estimate(tone, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("tone estimate invalid: %v", err)
	}
	for _, o := range []int{-1, MaxOrder + 1} {
		if _, err := Estimate(tone, o); !errors.Is(err, ErrParams) {
			t.Fatalf("order %d: %v", o, err)
		}
	}
	if _, err := Estimate(tone[:3], 4); !errors.Is(err, ErrParams) {
		t.Fatalf("short frame: %v", err)
	}
}

func TestNoAlloc(t *testing.T) {
	g := NewGenerator(3)
	_ = g.Set(Payload{Level: 40, Order: 10})
	pcm := make([]int16, 160)
	if n := testing.AllocsPerRun(100, func() { g.Read(pcm) }); n != 0 {
		t.Fatalf("Read: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Estimate(pcm, 10) }); n != 0 {
		t.Fatalf("Estimate: %v allocs", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{40})
	f.Add([]byte{0xC5, 0, 255, 127, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if len(b) != 0 {
				t.Fatalf("rejected %d bytes: %v", len(b), err)
			}
			return
		}
		if p.Order != min(len(b)-1, MaxOrder) {
			t.Fatalf("order %d from %d bytes", p.Order, len(b))
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatalf("parsed payload does not re-encode: %v", err)
		}
		again, _ := Parse(out)
		if again != p {
			t.Fatalf("round trip %+v -> %+v", p, again)
		}
		// Any parsed payload drives the generator without blowing up.
		g := NewGenerator(1)
		if err := g.Set(p); err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, 80)
		g.Read(pcm)
	})
}

func BenchmarkParse(b *testing.B) {
	in := []byte{40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, _ = Parse(in)
	}
}

func BenchmarkGenerator(b *testing.B) {
	for _, order := range []int{0, 10} {
		b.Run(fmt.Sprintf("order%d", order), func(b *testing.B) {
			g := NewGenerator(3)
			_ = g.Set(Payload{Level: 40, Order: order, K: [MaxOrder]float64{-0.5, 0.2}})
			pcm := make([]int16, 160)
			b.ReportAllocs()
			b.SetBytes(320)
			for b.Loop() {
				g.Read(pcm)
			}
		})
	}
}

func BenchmarkEstimate(b *testing.B) {
	g := NewGenerator(3)
	_ = g.Set(Payload{Level: 40})
	pcm := make([]int16, 160)
	g.Read(pcm)
	b.ReportAllocs()
	b.SetBytes(320)
	for b.Loop() {
		_, _ = Estimate(pcm, 10)
	}
}
