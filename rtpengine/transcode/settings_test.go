//go:build cgo

package transcode

import (
	"fmt"
	"testing"

	"github.com/openborder/openborder/test/audiocheck"
)

// opusSettings are the encoder settings weighed for the PCMU → Opus
// direction of a transcoded call: complexity and bitrate.
var opusSettings = []struct {
	complexity, bitrate int
	minSNR              float64 // tone SNR floor, a few dB under the measured value
}{
	{0, 24000, 24}, {0, 32000, 28}, {1, 24000, 27}, {1, 32000, 31}, {2, 32000, 29}, {3, 24000, 32}, {3, 32000, 33},
}

// TestOpusSettingsQuality measures the 1 kHz tone SNR of PCMU → Opus for
// each candidate encoder setting (the quality each gives: docs/dsp.md).
func TestOpusSettingsQuality(t *testing.T) {
	for _, s := range opusSettings {
		t.Run(fmt.Sprintf("complexity=%d/bitrate=%d", s.complexity, s.bitrate), func(t *testing.T) {
			const amp = 10000.0
			src := newSource(t, PCMU, 0, 1000, amp)
			dst := newSink(t, Opus)
			// Complexity 0 is "the default" in Config: -1 asks for 0.
			c := s.complexity
			if c == 0 {
				c = -1
			}
			p, err := New(Config{In: Codec{Name: PCMU, PT: 0}, Out: Codec{Name: Opus, PT: 111},
				OpusComplexity: c, OpusBitrate: s.bitrate, Output: dst.output})
			if err != nil {
				t.Fatal(err)
			}
			for range 100 { // 2 s
				if err := p.HandleRTP(src.next()); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(dst.pcm); got < 2*dst.rate-dst.rate/25 {
				t.Fatalf("decoded %d samples, want about %d", got, 2*dst.rate)
			}
			tone := audiocheck.Analyse(dst.pcm[dst.rate/5:], dst.rate) // skip 200 ms of codec start-up
			t.Logf("complexity %d, %d bit/s: %.2f Hz, SNR %.1f dB", s.complexity, s.bitrate, tone.Freq, tone.SNR)
			if tone.SNR < s.minSNR {
				t.Errorf("SNR %.1f dB, want >= %.0f", tone.SNR, s.minSNR)
			}
		})
	}
}

// BenchmarkOpusSettings is the per-frame cost of PCMU → Opus for each
// candidate encoder setting.
func BenchmarkOpusSettings(b *testing.B) {
	for _, s := range opusSettings {
		b.Run(fmt.Sprintf("complexity=%d/bitrate=%d", s.complexity, s.bitrate), func(b *testing.B) {
			c := s.complexity
			if c == 0 {
				c = -1
			}
			benchPipeline(b, PCMU, Opus, Config{OpusComplexity: c, OpusBitrate: s.bitrate})
		})
	}
}
