package plc

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// voiced returns n samples of a 200 Hz harmonic signal (harmonics 1-5,
// falling 6 dB each) with a slow vibrato, at rate.
func voiced(n, rate int, f0 float64) []int16 {
	out := make([]int16, n)
	var ph float64
	for i := range out {
		f := f0 * (1 + 0.01*math.Sin(2*math.Pi*3*float64(i)/float64(rate)))
		ph += 2 * math.Pi * f / float64(rate)
		var v float64
		for h := 1; h <= 5; h++ {
			v += math.Sin(float64(h)*ph) / float64(int(1)<<(h-1))
		}
		out[i] = int16(6000 * v)
	}
	return out
}

// run passes truth through a Concealer in frames, losing the frames for
// which lose returns true, and returns the output realigned with truth.
func run(t testing.TB, rate int, truth []int16, frame int, lose func(k int) bool) []int16 {
	t.Helper()
	c, err := New(rate)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(truth))
	buf := make([]int16, frame)
	for k := 0; (k+1)*frame <= len(truth); k++ {
		if lose(k) {
			c.Lost(buf)
		} else {
			copy(buf, truth[k*frame:(k+1)*frame])
			c.Good(buf)
		}
		copy(out[k*frame:], buf)
	}
	d := c.DelaySamples()
	return out[d:]
}

func errEnergy(a, b []int16) float64 {
	var e float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		e += d * d
	}
	return e
}

func energy(a []int16) float64 {
	var e float64
	for _, v := range a {
		e += float64(v) * float64(v)
	}
	return e
}

func maxStep(a []int16) float64 {
	var m float64
	for i := 1; i < len(a); i++ {
		m = max(m, math.Abs(float64(a[i])-float64(a[i-1])))
	}
	return m
}

func TestConcealBeatsSilence(t *testing.T) {
	for _, tt := range []struct {
		rate, frame, lostFrames int
		f0                      float64
		minGainDB               float64
	}{
		{8000, 80, 1, 200, 10},  // 10 ms
		{8000, 160, 1, 200, 6},  // 20 ms
		{8000, 160, 2, 200, 3},  // 40 ms
		{8000, 160, 1, 110, 6},  // low voice
		{16000, 320, 1, 200, 6}, // wideband 20 ms
	} {
		name := fmt.Sprintf("%dHz-%dx%d-f0=%v", tt.rate, tt.lostFrames, tt.frame, tt.f0)
		t.Run(name, func(t *testing.T) {
			truth := voiced(tt.rate, tt.rate, tt.f0)
			first := 20
			out := run(t, tt.rate, truth, tt.frame, func(k int) bool { return k >= first && k < first+tt.lostFrames })
			a, b := first*tt.frame, (first+tt.lostFrames)*tt.frame
			concealErr := errEnergy(out[a:b], truth[a:b])
			silenceErr := energy(truth[a:b])
			gain := 10 * math.Log10(silenceErr/concealErr)
			t.Logf("concealment error %.1f dB below silence", gain)
			if gain < tt.minGainDB {
				t.Fatalf("concealment only %.1f dB better than silence, want %v", gain, tt.minGainDB)
			}
			// Outside the loss, the join smoothing (at most the delay before
			// it) and the resume cross-fade, the output is the input.
			d := 30 * tt.rate / 8000
			if e := errEnergy(out[:a-d], truth[:a-d]); e != 0 {
				t.Fatalf("audio before the loss changed (error energy %v)", e)
			}
			end := b + tt.rate/100
			if e := errEnergy(out[end:], truth[end:len(out)]); e != 0 {
				t.Fatalf("audio after the loss changed (error energy %v)", e)
			}
		})
	}
}

func TestJoinsAreSmooth(t *testing.T) {
	truth := voiced(16000, 8000, 200)
	bound := 1.5 * maxStep(truth)
	for _, lost := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("%d frames", lost), func(t *testing.T) {
			out := run(t, 8000, truth, 160, func(k int) bool { return k >= 30 && k < 30+lost })
			if m := maxStep(out); m > bound {
				t.Fatalf("largest sample step %.0f, bound %.0f (signal's own %.0f)", m, bound, maxStep(truth))
			}
		})
	}
}

func TestFadesToSilence(t *testing.T) {
	truth := voiced(16000, 8000, 200)
	out := run(t, 8000, truth, 80, func(k int) bool { return k >= 40 && k < 40+12 }) // 120 ms
	start := 40 * 80
	// Frame energies (10 ms) never rise during the loss after the first
	// 10 ms, and everything from 60 ms on is silent.
	prev := math.Inf(1)
	for k := 1; k < 6; k++ {
		e := energy(out[start+k*80 : start+(k+1)*80])
		if e > prev*1.3 {
			t.Fatalf("10 ms block %d energy %.3g rose from %.3g", k, e, prev)
		}
		prev = e
	}
	for i := start + 480; i < start+960; i++ {
		if out[i] != 0 {
			t.Fatalf("sample %d ms into the loss is %d, want silence", (i-start)/8, out[i])
		}
	}
	// Resumption from silence fades in: no step larger than the signal's.
	if m := maxStep(out[start+900 : start+1200]); m > 1.5*maxStep(truth) {
		t.Fatalf("step %.0f at resumption", m)
	}
}

func TestStatsAndErrors(t *testing.T) {
	if _, err := New(44100); !errors.Is(err, ErrRate) {
		t.Fatalf("rate: %v", err)
	}
	c, _ := New(8000)
	if c.Delay().Microseconds() != 3750 {
		t.Fatalf("delay %v", c.Delay())
	}
	buf := make([]int16, 500) // larger than one chunk
	c.Good(buf)
	c.Lost(buf)
	c.Lost(buf[:7])
	c.Good(buf)
	c.Lost(buf[:1])
	if ev, n := c.Stats(); ev != 2 || n != 508 {
		t.Fatalf("stats %d events %d samples", ev, n)
	}
}

func TestNoAlloc(t *testing.T) {
	c, _ := New(8000)
	truth := voiced(1600, 8000, 200)
	buf := make([]int16, 160)
	k := 0
	n := testing.AllocsPerRun(200, func() {
		if k%5 == 3 {
			c.Lost(buf)
		} else {
			copy(buf, truth[(k%10)*160:])
			c.Good(buf)
		}
		k++
	})
	if n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}

func BenchmarkGood(b *testing.B) {
	c, _ := New(8000)
	truth := voiced(8000, 8000, 200)
	buf := make([]int16, 160)
	b.ReportAllocs()
	b.SetBytes(320)
	k := 0
	for b.Loop() {
		copy(buf, truth[(k%50)*160:])
		c.Good(buf)
		k++
	}
}

// BenchmarkLossPattern is one 20 ms frame in five lost (20 % loss): the
// cost includes the pitch search at the start of every loss.
func BenchmarkLossPattern(b *testing.B) {
	for _, rate := range []int{8000, 16000} {
		b.Run(fmt.Sprint(rate), func(b *testing.B) {
			c, _ := New(rate)
			fr := rate / 50
			truth := voiced(rate, rate, 200)
			buf := make([]int16, fr)
			b.ReportAllocs()
			b.SetBytes(int64(2 * fr))
			k := 0
			for b.Loop() {
				if k%5 == 4 {
					c.Lost(buf)
				} else {
					copy(buf, truth[(k%50)*fr:])
					c.Good(buf)
				}
				k++
			}
		})
	}
}

// FuzzConceal drives a Concealer with arbitrary frames and loss patterns:
// byte 0 picks the rate; each further byte is one frame (top bit: lost,
// low bits: length), filled with a ramp. Output stays within int16 range
// by construction; the check is that nothing panics and silence in gives
// silence out.
func FuzzConceal(f *testing.F) {
	f.Add([]byte{0, 0x50, 0xD0, 0x50, 0x7F, 0xFF, 0x01})
	f.Add([]byte{1, 0x7F, 0x80, 0x80, 0x80, 0x7F})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		rate := 8000 * (1 + int(b[0]&1))
		c, err := New(rate)
		if err != nil {
			t.Fatal(err)
		}
		z, _ := New(rate)
		buf := make([]int16, 0, 512)
		zero := make([]int16, 0, 512)
		for i, op := range b[1:] {
			n := int(op&0x7F)*4 + 1
			buf = buf[:n]
			zero = zero[:n]
			clear(zero)
			for j := range buf {
				buf[j] = int16((i*977 + j*331) % 65536)
			}
			if op&0x80 != 0 {
				c.Lost(buf)
				z.Lost(zero)
			} else {
				c.Good(buf)
				z.Good(zero)
			}
			for _, v := range zero {
				if v != 0 {
					t.Fatalf("silence in, %d out", v)
				}
			}
		}
	})
}
