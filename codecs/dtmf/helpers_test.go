package dtmf

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
)

// render plays keys with cfg and returns the PCM plus lead and tail silence.
func render(t testing.TB, cfg GeneratorConfig, keys string) []int16 {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Play(keys); err != nil {
		t.Fatal(err)
	}
	rate := g.cfg.Rate
	n := len(keys)*(g.on+g.off) + rate/5
	pcm := make([]int16, n)
	lead := rate / 10
	g.Read(pcm[lead:])
	if !g.Done() {
		t.Fatal("generator not done")
	}
	return pcm
}

// detect runs a fresh detector over pcm in chunks of the given size.
func detect(t testing.TB, rate int, cfg DetectorConfig, pcm []int16, chunk int) []Event {
	t.Helper()
	d, err := NewDetector(rate, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for off := 0; off < len(pcm); off += chunk {
		evs = d.Process(evs, pcm[off:min(off+chunk, len(pcm))])
	}
	return d.Flush(evs)
}

// digits returns the keys of the End events, checking that events pair up.
func digits(t testing.TB, evs []Event) string {
	t.Helper()
	var out []byte
	var open byte
	for _, e := range evs {
		switch e.Kind {
		case Start:
			if open != 0 {
				t.Fatalf("start %c while %c open: %v", e.Key, open, evs)
			}
			open = e.Key
		case End:
			if open != e.Key {
				t.Fatalf("end %c without start: %v", e.Key, evs)
			}
			open = 0
			out = append(out, e.Key)
		}
	}
	return string(out)
}

// addNoise adds white Gaussian noise snrDB below the signal's power
// measured over its non-silent samples.
func addNoise(pcm []int16, snrDB float64, seed uint64) {
	var sum float64
	n := 0
	for _, v := range pcm {
		if v != 0 {
			sum += float64(v) * float64(v)
			n++
		}
	}
	sigma := math.Sqrt(sum / float64(n) / math.Pow(10, snrDB/10))
	rng := rand.New(rand.NewPCG(seed, 7))
	for i, v := range pcm {
		pcm[i] = clip16(float64(v) + rng.NormFloat64()*sigma)
	}
}

func clip16(v float64) int16 {
	return int16(max(-32768, min(32767, math.Round(v))))
}

// speech loads the committed talk-off corpus (8 kHz µ-law).
func speech(t testing.TB) []int16 {
	t.Helper()
	b, err := os.ReadFile("testdata/speech-8k.ul")
	if err != nil {
		t.Fatalf("talk-off corpus: %v (see testdata/gen/README.md)", err)
	}
	pcm := make([]int16, len(b))
	codecs.UlawDecodeFrame(pcm, b)
	return pcm
}

func ms(rate int, d time.Duration) int64 { return int64(d) * int64(rate) / int64(time.Second) }
