package dtmf

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestDetectAllKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  GeneratorConfig
	}{
		{"nominal", GeneratorConfig{}},
		{"16kHz", GeneratorConfig{Rate: 16000}},
		{"+1.5%", GeneratorConfig{LowShift: 0.015, HighShift: 0.015}},
		{"-1.5%", GeneratorConfig{LowShift: -0.015, HighShift: -0.015}},
		{"+1.5% low -1.5% high", GeneratorConfig{LowShift: 0.015, HighShift: -0.015}},
		{"-1.5% low +1.5% high", GeneratorConfig{LowShift: -0.015, HighShift: 0.015}},
		{"normal twist 8dB", GeneratorConfig{Level: -10, Twist: 8}},
		{"reverse twist 4dB", GeneratorConfig{Level: -10, Twist: -4}},
		{"level -25dBm0", GeneratorConfig{Level: -25}},
		{"level -25dBm0 16kHz", GeneratorConfig{Rate: 16000, Level: -25}},
		{"40ms on 40ms off", GeneratorConfig{On: 40 * time.Millisecond, Off: 40 * time.Millisecond}},
		{"40ms on 40ms off 16kHz", GeneratorConfig{Rate: 16000, On: 40 * time.Millisecond, Off: 40 * time.Millisecond}},
		{"-1.5% twist 8dB -25dBm0", GeneratorConfig{Level: -25, Twist: 8, LowShift: -0.015, HighShift: -0.015}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pcm := render(t, tt.cfg, Keys)
			rate := max(tt.cfg.Rate, 8000)
			// Chunk sizes that do not divide the hop exercise the buffering.
			for _, chunk := range []int{160, 37, 1, 1000} {
				if got := digits(t, detect(t, rate, DetectorConfig{}, pcm, chunk)); got != Keys {
					t.Fatalf("chunk %d: detected %q, want %q", chunk, got, Keys)
				}
			}
		})
	}
}

func TestRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  GeneratorConfig
	}{
		{"low +3.5%", GeneratorConfig{LowShift: 0.035}},
		{"low -3.5%", GeneratorConfig{LowShift: -0.035}},
		{"high +3.5%", GeneratorConfig{HighShift: 0.035}},
		{"high -3.5%", GeneratorConfig{HighShift: -0.035}},
		{"both +5%", GeneratorConfig{LowShift: 0.05, HighShift: 0.05}},
		{"high -6%", GeneratorConfig{HighShift: -0.06}},
		{"normal twist 10dB", GeneratorConfig{Level: -10, Twist: 10}},
		{"reverse twist 7dB", GeneratorConfig{Level: -10, Twist: -7}},
		{"level -35dBm0", GeneratorConfig{Level: -35}},
		{"20ms tones", GeneratorConfig{On: 20 * time.Millisecond, Off: 40 * time.Millisecond}},
		{"16kHz level -35dBm0", GeneratorConfig{Rate: 16000, Level: -35}},
		{"16kHz high +3.5%", GeneratorConfig{Rate: 16000, HighShift: 0.035}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pcm := render(t, tt.cfg, Keys)
			if evs := detect(t, max(tt.cfg.Rate, 8000), DetectorConfig{}, pcm, 160); len(evs) != 0 {
				t.Fatalf("detected %v", evs)
			}
		})
	}
}

func TestTiming(t *testing.T) {
	for _, on := range []time.Duration{40 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond} {
		t.Run(on.String(), func(t *testing.T) {
			cfg := GeneratorConfig{On: on, Off: 60 * time.Millisecond}
			pcm := render(t, cfg, "159")
			evs := detect(t, 8000, DetectorConfig{}, pcm, 160)
			if len(evs) != 6 {
				t.Fatalf("events %v", evs)
			}
			lead := int64(800) // render's 100 ms lead
			period := ms(8000, on+60*time.Millisecond)
			for i := 0; i < 3; i++ {
				st, en := evs[2*i], evs[2*i+1]
				wantStart := lead + int64(i)*period
				if d := st.At - wantStart; d < -80 || d > 80 {
					t.Errorf("digit %d starts at %d, want %d±80", i, st.At, wantStart)
				}
				if d := en.Duration - ms(8000, on); d < -160 || d > 160 {
					t.Errorf("digit %d lasts %d samples, want %d±160", i, en.Duration, ms(8000, on))
				}
			}
		})
	}
}

func TestPauses(t *testing.T) {
	// A 40 ms pause separates a repeated key; a 5 ms gap is bridged.
	for _, tt := range []struct {
		off  time.Duration
		want string
	}{{40 * time.Millisecond, "5555"}, {5 * time.Millisecond, "5"}} {
		t.Run(tt.off.String(), func(t *testing.T) {
			pcm := render(t, GeneratorConfig{On: 60 * time.Millisecond, Off: tt.off}, "5555")
			if got := digits(t, detect(t, 8000, DetectorConfig{}, pcm, 160)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNoise(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  GeneratorConfig
	}{
		{"nominal", GeneratorConfig{}},
		{"+1.5%", GeneratorConfig{LowShift: 0.015, HighShift: 0.015}},
		{"twist 8dB", GeneratorConfig{Level: -10, Twist: 8}},
		{"-20dBm0", GeneratorConfig{Level: -20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				pcm := render(t, tt.cfg, Keys)
				addNoise(pcm, 15, seed)
				if got := digits(t, detect(t, 8000, DetectorConfig{}, pcm, 160)); got != Keys {
					t.Fatalf("seed %d: 15 dB SNR: got %q", seed, got)
				}
			}
		})
	}
}

// TestTalkOff runs the speech corpus (testdata/speech-8k.ul, about four
// minutes of synthetic speech in 14 languages) through the detector at
// several gains: it must not find a single digit.
func TestTalkOff(t *testing.T) {
	sp := speech(t)
	if len(sp) < 8000*120 {
		t.Fatalf("corpus has only %d samples", len(sp))
	}
	for _, gain := range []float64{0.25, 1, 1.8} {
		t.Run(fmt.Sprintf("gain %.2f", gain), func(t *testing.T) {
			pcm := make([]int16, len(sp))
			for i, v := range sp {
				pcm[i] = clip16(float64(v) * gain)
			}
			if evs := detect(t, 8000, DetectorConfig{}, pcm, 160); len(evs) != 0 {
				t.Fatalf("%d false events: %v", len(evs), evs)
			}
		})
	}
}

// TestTalkDown mixes digits at −7 dBm0 per tone under speech at its
// corpus level (about −19 dBm0 on average, peaks near −6 dBFS).
func TestTalkDown(t *testing.T) {
	sp := speech(t)
	for _, start := range []int{7 * 8000, 40 * 8000, 95 * 8000, 150 * 8000} {
		pcm := render(t, GeneratorConfig{}, Keys)
		for i := range pcm {
			pcm[i] = clip16(float64(pcm[i]) + float64(sp[(start+i)%len(sp)]))
		}
		if got := digits(t, detect(t, 8000, DetectorConfig{}, pcm, 160)); got != Keys {
			t.Fatalf("speech from %d s: got %q", start/8000, got)
		}
	}
}

func TestSuppressor(t *testing.T) {
	s, err := NewSuppressor(8000, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Delay() != 40*time.Millisecond {
		t.Fatalf("delay %v", s.Delay())
	}
	// 300 ms of a 440 Hz "voice", digits, voice again.
	pcm := render(t, GeneratorConfig{On: 80 * time.Millisecond, Off: 120 * time.Millisecond}, "37#")
	lead := 800
	voice := func(i int) int16 { return int16(3000 * sinTable(i)) }
	for i := 0; i < lead; i++ {
		pcm[i] = voice(i)
	}
	tail := lead + 3*1600
	for i := tail; i < len(pcm); i++ {
		pcm[i] = voice(i)
	}
	orig := append([]int16(nil), pcm...)
	var evs []Event
	for off := 0; off < len(pcm); off += 160 {
		evs = s.Process(evs, pcm[off:min(off+160, len(pcm))])
	}
	if got := digits(t, evs); got != "37#" {
		t.Fatalf("digits %q", got)
	}
	D := 320
	// Every digit sample is muted in the output.
	for k := 0; k < 3; k++ {
		from := lead + k*1600
		for i := from; i < from+640; i++ {
			if i+D < len(pcm) && pcm[i+D] != 0 {
				t.Fatalf("digit %d: sample %d passed through (%d)", k, i, pcm[i+D])
			}
		}
	}
	// The voice before and after is delayed, not muted.
	for i := 0; i < lead-100; i++ {
		if pcm[i+D] != orig[i] {
			t.Fatalf("voice sample %d changed: %d, want %d", i, pcm[i+D], orig[i])
		}
	}
	for i := tail + 200; i+D < len(pcm); i++ {
		if pcm[i+D] != orig[i] {
			t.Fatalf("voice sample %d after the digits changed", i)
		}
	}
}

func sinTable(i int) float64 {
	// 440 Hz at 8 kHz.
	x := 2 * math.Pi * 440 / 8000 * float64(i%8000)
	return math.Sin(x)
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewDetector(44100, DetectorConfig{}); !errors.Is(err, ErrRate) {
		t.Fatalf("rate: %v", err)
	}
	for _, c := range []DetectorConfig{
		{MinLevel: 5}, {MaxNormalTwist: -1}, {MaxReverseTwist: 30}, {FreqTolerance: 0.2},
		{MinEnergyRatio: 1.5}, {MinPeakRatio: -3}, {MaxHarmonic: 100},
	} {
		if _, err := NewDetector(8000, c); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	for _, c := range []GeneratorConfig{
		{Rate: 4000}, {Level: 0.5}, {Level: -4, Twist: 6}, {On: -1}, {Off: -1}, {LowShift: 0.5},
	} {
		if _, err := NewGenerator(c); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	g, _ := NewGenerator(GeneratorConfig{})
	if err := g.Play("12x"); !errors.Is(err, ErrKey) {
		t.Fatalf("bad key: %v", err)
	}
	if _, _, err := Frequencies('E'); !errors.Is(err, ErrKey) {
		t.Fatalf("Frequencies(E): %v", err)
	}
}

func TestDetectorNoAlloc(t *testing.T) {
	pcm := render(t, GeneratorConfig{}, Keys)
	d, _ := NewDetector(8000, DetectorConfig{})
	evs := make([]Event, 0, 64)
	off := 0
	allocs := testing.AllocsPerRun(200, func() {
		if off+160 > len(pcm) {
			off = 0
		}
		evs = d.Process(evs[:0], pcm[off:off+160])
		off += 160
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func benchDetector(b *testing.B, rate int, pcm []int16) {
	d, _ := NewDetector(rate, DetectorConfig{})
	frame := rate / 50
	evs := make([]Event, 0, 16)
	b.ReportAllocs()
	b.SetBytes(int64(frame * 2))
	off := 0
	for b.Loop() {
		if off+frame > len(pcm) {
			off = 0
		}
		evs = d.Process(evs[:0], pcm[off:off+frame])
		off += frame
	}
}

// BenchmarkDetector reports ns per 20 ms frame of one stream.
func BenchmarkDetector(b *testing.B) {
	b.Run("8k/digits", func(b *testing.B) { benchDetector(b, 8000, render(b, GeneratorConfig{}, Keys)) })
	b.Run("8k/speech", func(b *testing.B) { benchDetector(b, 8000, speech(b)) })
	b.Run("8k/silence", func(b *testing.B) { benchDetector(b, 8000, make([]int16, 8000)) })
	b.Run("16k/digits", func(b *testing.B) { benchDetector(b, 16000, render(b, GeneratorConfig{Rate: 16000}, Keys)) })
}

func BenchmarkGenerator(b *testing.B) {
	g, _ := NewGenerator(GeneratorConfig{})
	buf := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		if g.Done() {
			_ = g.Play(Keys)
		}
		g.Read(buf)
	}
}

func BenchmarkSuppressor(b *testing.B) {
	s, _ := NewSuppressor(8000, DetectorConfig{})
	pcm := render(b, GeneratorConfig{}, Keys)
	frame := make([]int16, 160)
	evs := make([]Event, 0, 16)
	b.ReportAllocs()
	off := 0
	for b.Loop() {
		if off+160 > len(pcm) {
			off = 0
		}
		copy(frame, pcm[off:off+160])
		evs = s.Process(evs[:0], frame)
		off += 160
	}
}

// FuzzDetector feeds arbitrary PCM (little-endian 16-bit, first byte sets
// the chunk size): events must pair up and never panic.
func FuzzDetector(f *testing.F) {
	pcm := render(f, GeneratorConfig{On: 50 * time.Millisecond, Off: 50 * time.Millisecond}, "1#")
	b := []byte{160}
	for _, v := range pcm {
		b = append(b, byte(v), byte(uint16(v)>>8))
	}
	f.Add(b)
	f.Add([]byte{1, 0, 0x80, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1 {
			return
		}
		chunk := int(b[0]) + 1
		pcm := make([]int16, (len(b)-1)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(b[1+2*i]) | uint16(b[2+2*i])<<8)
		}
		evs := detect(t, 8000, DetectorConfig{}, pcm, chunk)
		digits(t, evs)
		for _, e := range evs {
			if e.At < 0 || e.At > int64(len(pcm)) || e.Duration < 0 {
				t.Fatalf("event out of range: %v (%d samples)", e, len(pcm))
			}
		}
	})
}
