//go:build cgo

package transcode

import (
	"fmt"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/opus"
)

// BenchmarkFrame measures one 20 ms frame through a pipeline (decode,
// resample where needed, encode, header): the per-frame cost of one
// direction of a transcoded call.
func BenchmarkFrame(b *testing.B) {
	paths := []struct {
		in, out    string
		complexity int
	}{
		{Opus, PCMU, 0}, {PCMU, Opus, -1}, {PCMU, Opus, 1}, {PCMU, Opus, 3}, {PCMU, Opus, 5}, {PCMU, Opus, 10},
		{G722, PCMA, 0}, {PCMA, G722, 0}, {Opus, G722, 0}, {G722, Opus, 3}, {PCMU, PCMA, 0},
	}
	for _, c := range paths {
		name := c.in + "_to_" + c.out
		if c.out == Opus {
			name += fmt.Sprintf("/complexity=%d", max(c.complexity, 0))
		}
		b.Run(name, func(b *testing.B) {
			benchPipeline(b, c.in, c.out, Config{OpusComplexity: c.complexity})
		})
	}
	// The Opus peer codes narrowband, as it does when the SDP gives it
	// maxplaybackrate=8000: the decoder's cost for G.711's other leg.
	b.Run("opus_to_pcmu/narrowband_peer", func(b *testing.B) {
		src := newSource(&testing.T{}, Opus, ptOf[Opus], 1000, 10000)
		e, err := opus.NewEncoder(opus.EncoderConfig{SampleRate: 48000, FEC: true, MaxBandwidthHz: 4000})
		if err != nil {
			b.Fatal(err)
		}
		src.opus = e
		benchSource(b, src, Opus, PCMU, Config{})
	})
}

// benchPipeline feeds one pipeline from in to out (cfg adds its settings)
// with 20 ms frames of a 1 kHz tone, one per iteration.
func benchPipeline(b *testing.B, in, out string, cfg Config) {
	benchSource(b, newSource(&testing.T{}, in, ptOf[in], 1000, 10000), in, out, cfg)
}

// benchSource is benchPipeline with the packets of src.
func benchSource(b *testing.B, src *source, in, out string, cfg Config) {
	pkts := make([][]byte, 50)
	for i := range pkts {
		pkts[i] = src.next()
	}
	sent := 0
	cfg.In, cfg.Out = Codec{Name: in, PT: ptOf[in]}, Codec{Name: out, PT: ptOf[out]}
	cfg.Output = func(pkt []byte) { sent += len(pkt) }
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkts[0])))
	seq, ts := uint16(0), uint32(0)
	step := uint32(clockRate(in) / 50)
	for i := 0; b.Loop(); i++ {
		pk := pkts[i%len(pkts)]
		pk[2], pk[3] = byte(seq>>8), byte(seq)
		pk[4], pk[5], pk[6], pk[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		seq++
		ts += step
		if err := p.HandleRTP(pk); err != nil {
			b.Fatal(err)
		}
	}
	if sent == 0 {
		b.Fatal("nothing sent")
	}
}

// BenchmarkFrameDTMF measures one 20 ms frame through a pipeline with
// digit processing (in-band detection on the decoded audio, events
// towards the other side) against the same pipeline without: the cost
// DTMF interworking adds to a transcoded stream.
func BenchmarkFrameDTMF(b *testing.B) {
	for _, c := range []struct{ in, out string }{{Opus, PCMU}, {G722, PCMA}, {PCMU, Opus}} {
		for _, withDTMF := range []bool{false, true} {
			name := fmt.Sprintf("%s_to_%s/dtmf=%v", c.in, c.out, withDTMF)
			b.Run(name, func(b *testing.B) {
				cfg := Config{OutEventPT: 101}
				if withDTMF {
					cfg.DTMF = &DTMF{Detect: true, Out: DTMFEvents, OnDigit: func(byte, time.Duration, string) {}}
				}
				benchPipeline(b, c.in, c.out, cfg)
			})
		}
	}
}
