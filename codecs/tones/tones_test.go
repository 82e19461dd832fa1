package tones

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func goertzelPower(x []int16, freq float64, rate int) float64 {
	c := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = float64(v)+c*s1-s2, s1
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// runs splits pcm into on/off runs in 1 ms blocks (a block is on when any
// sample is non-zero) and returns their lengths in ms, starting with on.
func runs(pcm []int16, rate int) []int {
	blk := rate / 1000
	var out []int
	cur, n := true, 0
	for off := 0; off+blk <= len(pcm); off += blk {
		on := false
		for _, v := range pcm[off : off+blk] {
			if v != 0 {
				on = true
				break
			}
		}
		if on != cur {
			out = append(out, n)
			cur, n = on, 0
		}
		n++
	}
	return append(out, n)
}

func components(t Tone) []float64 {
	switch t.Kind {
	case Dual:
		return []float64{t.F1, t.F2}
	case Modulated:
		return []float64{t.F1, t.F1 - t.F2, t.F1 + t.F2}
	}
	return []float64{t.F1}
}

func TestTables(t *testing.T) {
	for _, c := range Countries() {
		for _, name := range Names {
			tone, err := Lookup(c, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, rate := range []int{8000, 16000, 48000} {
				t.Run(fmt.Sprintf("%s/%s/%d", c, name, rate), func(t *testing.T) {
					checkTone(t, tone, rate)
				})
			}
		}
	}
}

func checkTone(t *testing.T, tone Tone, rate int) {
	g, err := NewGenerator(tone, rate)
	if err != nil {
		t.Fatal(err)
	}
	// Two cadence cycles (or 1 s), in 20 ms frames.
	total := time.Second
	if !tone.Continuous() {
		total = 2 * tone.Period()
	}
	n := int(int64(total) * int64(rate) / int64(time.Second))
	pcm := make([]int16, n)
	frame := rate / 50
	for off := 0; off < n; off += frame {
		g.Read(pcm[off:min(off+frame, n)])
	}
	// Cadence: the runs match the steps, twice over, within 1 ms.
	got := runs(pcm, rate)
	if tone.Continuous() {
		if len(got) != 1 {
			t.Fatalf("continuous tone has runs %v", got)
		}
	} else {
		if len(got) != 2*tone.N {
			t.Fatalf("runs %v (ms), want 2 x %v", got, tone.Cadence[:tone.N])
		}
		for i, r := range got {
			want := int(tone.Cadence[i%tone.N] / time.Millisecond)
			if r < want-1 || r > want+1 {
				t.Fatalf("run %d is %d ms, want %d (runs %v)", i, r, want, got)
			}
		}
	}
	// Frequencies over the first on step (at most 1 s).
	on := n
	if !tone.Continuous() {
		on = int(int64(tone.Cadence[0]) * int64(rate) / int64(time.Second))
	}
	x := pcm[:min(on, rate)]
	var energy float64
	for _, v := range x {
		energy += float64(v) * float64(v)
	}
	var inTone float64
	comps := components(tone)
	for _, f := range comps {
		inTone += 2 * goertzelPower(x, f, rate) / float64(len(x))
	}
	if inTone < 0.95*energy {
		t.Fatalf("components %v carry %.1f%% of the energy", comps, 100*inTone/energy)
	}
	// The strongest frequency on a 5 Hz grid is one of the components.
	best, bestP := 0.0, 0.0
	for f := 100.0; f < 3500; f += 5 {
		if p := goertzelPower(x, f, rate); p > bestP {
			best, bestP = f, p
		}
	}
	near := false
	for _, f := range comps {
		near = near || math.Abs(best-f) <= 5
	}
	if !near {
		t.Fatalf("dominant frequency %v Hz, want one of %v", best, comps)
	}
	// Level: each main component within 0.5 dB of the table.
	for _, f := range comps[:min(len(comps), 2)] {
		if tone.Kind == Modulated && f != tone.F1 {
			break
		}
		amp := 2 * math.Sqrt(goertzelPower(x, f, rate)) / float64(len(x))
		level := 20*math.Log10(amp/32767) + fullScaleDBm0
		if math.Abs(level-tone.Level) > 0.5 {
			t.Fatalf("%v Hz at %.2f dBm0, want %v", f, level, tone.Level)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	if _, err := Lookup("XX", Dial); !errors.Is(err, ErrUnknown) {
		t.Fatalf("country: %v", err)
	}
	if _, err := Lookup("US", "howler"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("name: %v", err)
	}
	a, err := Lookup("gb", Ringback)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := Lookup("UK", Ringback); a != b || a.Kind != Dual || a.F1 != 400 || a.F2 != 450 {
		t.Fatalf("GB ringback %+v", a)
	}
}

func TestGeneratorErrors(t *testing.T) {
	good := Tone{Kind: Single, F1: 425, Level: -10}
	for _, tt := range []struct {
		name string
		tone Tone
		rate int
		err  error
	}{
		{"rate", good, 44100, ErrRate},
		{"kind", Tone{F1: 425, Level: -10}, 8000, ErrTone},
		{"frequency", Tone{Kind: Single, F1: 5000, Level: -10}, 8000, ErrTone},
		{"dual without F2", Tone{Kind: Dual, F1: 350, Level: -10}, 8000, ErrTone},
		{"level", Tone{Kind: Single, F1: 425, Level: 0}, 8000, ErrTone},
		{"depth", Tone{Kind: Modulated, F1: 400, F2: 25, Level: -10}, 8000, ErrTone},
		{"odd cadence", Tone{Kind: Single, F1: 425, Level: -10, N: 1, Cadence: [MaxCadence]time.Duration{time.Second}}, 8000, ErrTone},
		{"zero step", Tone{Kind: Single, F1: 425, Level: -10, N: 2}, 8000, ErrTone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewGenerator(tt.tone, tt.rate); !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
		})
	}
}

func TestReset(t *testing.T) {
	tone, _ := Lookup("DE", Busy)
	g, _ := NewGenerator(tone, 8000)
	a := make([]int16, 4000)
	b := make([]int16, 4000)
	g.Read(a)
	g.Reset()
	g.Read(b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d differs after Reset: %d vs %d", i, a[i], b[i])
		}
	}
}

func TestNoAlloc(t *testing.T) {
	tone, _ := Lookup("UK", Ringback)
	g, _ := NewGenerator(tone, 48000)
	buf := make([]int16, 960)
	if n := testing.AllocsPerRun(100, func() { g.Read(buf) }); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

func BenchmarkGenerator(b *testing.B) {
	for _, c := range []struct {
		country string
		name    Name
		rate    int
	}{{"US", Dial, 8000}, {"UK", Ringback, 8000}, {"IN", Ringback, 8000}, {"US", Dial, 48000}} {
		b.Run(fmt.Sprintf("%s-%s-%d", c.country, c.name, c.rate), func(b *testing.B) {
			tone, _ := Lookup(c.country, c.name)
			g, _ := NewGenerator(tone, c.rate)
			buf := make([]int16, c.rate/50)
			b.ReportAllocs()
			b.SetBytes(int64(2 * len(buf)))
			for b.Loop() {
				g.Read(buf)
			}
		})
	}
}
