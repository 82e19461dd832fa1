//go:build cgo

package transcode

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
)

// opusSettings are the encoder settings weighed for the PCMU → Opus
// direction of a transcoded call: libopus application, complexity and
// bitrate.
var opusSettings = []struct {
	voip                bool
	complexity, bitrate int
	minSNR              float64 // tone SNR floor, a few dB under the measured value
	minSpeech           float64 // segmental SNR floor on speech
}{
	{true, 0, 24000, 24, 11}, {true, 0, 32000, 28, 12}, {true, 1, 24000, 27, 11}, {true, 1, 32000, 31, 12},
	{true, 2, 32000, 29, 12}, {true, 3, 24000, 32, 11}, {true, 3, 32000, 33, 12},
	{false, 0, 24000, 27, 15}, {false, 0, 32000, 31, 21}, {false, 1, 24000, 28, 14}, {false, 1, 32000, 31, 20}, {false, 3, 16000, 13, 8}, {false, 3, 24000, 27, 14},
	{false, 3, 32000, 31, 20}, {false, 5, 24000, 31, 15},
}

// appName names the libopus application of a setting.
func appName(voip bool) string {
	if voip {
		return "voip"
	}
	return "lowdelay"
}

// TestOpusSettingsQuality measures the 1 kHz tone SNR of PCMU → Opus for
// each candidate encoder setting (the quality each gives: docs/dsp.md).
func TestOpusSettingsQuality(t *testing.T) {
	for _, s := range opusSettings {
		t.Run(fmt.Sprintf("%s/complexity=%d/bitrate=%d", appName(s.voip), s.complexity, s.bitrate), func(t *testing.T) {
			const amp = 10000.0
			src := newSource(t, PCMU, 0, 1000, amp)
			dst := newSink(t, Opus)
			// Complexity 0 is "the default" in Config: -1 asks for 0.
			c := s.complexity
			if c == 0 {
				c = -1
			}
			p, err := New(Config{In: Codec{Name: PCMU, PT: 0}, Out: Codec{Name: Opus, PT: 111},
				OpusComplexity: c, OpusBitrate: s.bitrate, OpusVoIP: s.voip, Output: dst.output})
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
			t.Logf("%s complexity %d, %d bit/s: %.2f Hz, SNR %.1f dB", appName(s.voip), s.complexity, s.bitrate, tone.Freq, tone.SNR)
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
		b.Run(fmt.Sprintf("%s/complexity=%d/bitrate=%d", appName(s.voip), s.complexity, s.bitrate), func(b *testing.B) {
			c := s.complexity
			if c == 0 {
				c = -1
			}
			benchPipeline(b, PCMU, Opus, Config{OpusComplexity: c, OpusBitrate: s.bitrate, OpusVoIP: s.voip})
		})
	}
}

// TestOpusSettingsSpeech sends ten seconds of synthesised speech (the
// DTMF talk-off corpus, 8 kHz µ-law) through PCMU → Opus for each setting,
// decodes the Opus at 8 kHz as the far peer would, and reports the
// segmental SNR against the µ-law input (20 ms segments with speech,
// each clamped to -10..35 dB, after aligning the codec delay). A waveform
// measure, not a MOS: it shows how much of the speech each setting keeps
// and guards against a setting that garbles it.
func TestOpusSettingsSpeech(t *testing.T) {
	ulaw, err := os.ReadFile("../../codecs/dtmf/testdata/speech-8k.ul")
	if err != nil {
		t.Fatalf("speech corpus: %v", err)
	}
	ulaw = ulaw[:min(len(ulaw), 80000)]
	ref := make([]int16, len(ulaw))
	codecs.UlawDecodeFrame(ref, ulaw)
	for _, s := range opusSettings {
		t.Run(fmt.Sprintf("%s/complexity=%d/bitrate=%d", appName(s.voip), s.complexity, s.bitrate), func(t *testing.T) {
			dec, err := opus.NewDecoder(opus.DecoderConfig{SampleRate: 8000})
			if err != nil {
				t.Fatal(err)
			}
			var got []int16
			var pcm [960]int16
			c := s.complexity
			if c == 0 {
				c = -1
			}
			p, err := New(Config{In: Codec{Name: PCMU, PT: 0}, Out: Codec{Name: Opus, PT: 111},
				OpusComplexity: c, OpusBitrate: s.bitrate, OpusVoIP: s.voip, Output: func(b []byte) {
					var h rtpHeader
					if err := parseRTP(b, &h); err != nil {
						t.Fatal(err)
					}
					n, err := dec.Decode(h.payload, pcm[:])
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, pcm[:n]...)
				}})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+160 <= len(ulaw); i += 160 {
				if err := p.HandleRTP(rtp(0, i == 0, uint16(i/160), uint32(i), 1, ulaw[i:i+160])); err != nil {
					t.Fatal(err)
				}
			}
			seg, delay := segmentalSNR(ref, got, 200)
			t.Logf("%s complexity %d, %d bit/s: segmental SNR %.1f dB (delay %d samples)", appName(s.voip), s.complexity, s.bitrate, seg, delay)
			if seg < s.minSpeech {
				t.Errorf("segmental SNR %.1f dB, want >= %.0f", seg, s.minSpeech)
			}
		})
	}
}

// segmentalSNR aligns got to ref (delay 0..maxDelay samples, best overall
// SNR) and returns the mean SNR of the 20 ms segments (8 kHz) whose
// reference level is within 40 dB of the loudest, each clamped to
// -10..35 dB, and the delay.
func segmentalSNR(ref, got []int16, maxDelay int) (float64, int) {
	best, delay := math.Inf(-1), 0
	for d := 0; d <= maxDelay; d++ {
		var sig, noise float64
		for i := 0; i+d < len(got) && i < len(ref); i++ {
			e := float64(got[i+d]) - float64(ref[i])
			sig += float64(ref[i]) * float64(ref[i])
			noise += e * e
		}
		if v := sig / math.Max(noise, 1); v > best {
			best, delay = v, d
		}
	}
	const seg = 160
	var energies []float64
	var snrs []float64
	loudest := 0.0
	for i := 0; i+seg <= len(ref) && i+seg+delay <= len(got); i += seg {
		var sig, noise float64
		for j := i; j < i+seg; j++ {
			e := float64(got[j+delay]) - float64(ref[j])
			sig += float64(ref[j]) * float64(ref[j])
			noise += e * e
		}
		energies = append(energies, sig)
		snrs = append(snrs, math.Min(35, math.Max(-10, 10*math.Log10(math.Max(sig, 1)/math.Max(noise, 1)))))
		loudest = math.Max(loudest, sig)
	}
	var sum float64
	n := 0
	for i, e := range energies {
		if e >= loudest*1e-4 {
			sum += snrs[i]
			n++
		}
	}
	if n == 0 {
		return math.Inf(-1), delay
	}
	return sum / float64(n), delay
}

// TestOpusApplicationModes checks which Opus modes the PCMU → Opus
// encoder uses (the TOC byte's configuration, RFC 6716 3.1): CELT by
// default, SILK when VoIP is asked for or in-band FEC needs it.
func TestOpusApplicationModes(t *testing.T) {
	tests := []struct {
		name      string
		voip, fec bool
		celt      bool
	}{
		{"default", false, false, true},
		{"voip", true, false, false},
		{"fec", false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, PCMU, 0, 1000, 10000)
			var configs []byte
			p, err := New(Config{In: Codec{Name: PCMU, PT: 0}, Out: Codec{Name: Opus, PT: 111},
				OpusVoIP: tc.voip, OpusFEC: tc.fec, Output: func(b []byte) {
					var h rtpHeader
					if err := parseRTP(b, &h); err != nil || len(h.payload) == 0 {
						t.Fatalf("bad packet: %v", err)
					}
					configs = append(configs, h.payload[0]>>3)
				}})
			if err != nil {
				t.Fatal(err)
			}
			for range 25 {
				if err := p.HandleRTP(src.next()); err != nil {
					t.Fatal(err)
				}
			}
			if len(configs) == 0 {
				t.Fatal("no packet")
			}
			for _, c := range configs {
				// configurations 0-11 are SILK-only, 12-15 hybrid, 16-31 CELT-only
				if isCELT := c >= 16; isCELT != tc.celt {
					t.Fatalf("TOC configuration %d, want CELT-only %v (all: %v)", c, tc.celt, configs)
				}
			}
		})
	}
}
