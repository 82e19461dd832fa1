//go:build cgo

package opus

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// sine returns n samples of a freq Hz sine with peak amp at rate.
func sine(rate, n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return out
}

// speechLike returns n samples of a voiced, syllable-modulated harmonic
// signal with a little noise: a deterministic stand-in for speech.
func speechLike(rate, n int) []int16 {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]int16, n)
	phase := 0.0
	for i := range out {
		t := float64(i) / float64(rate)
		f0 := 120 + 40*math.Sin(2*math.Pi*1.3*t)
		phase += 2 * math.Pi * f0 / float64(rate)
		env := 0.5 + 0.5*math.Sin(2*math.Pi*3.1*t)
		v := 0.0
		for h := 1; h <= 12; h++ {
			if float64(h)*f0 >= float64(rate)/2 {
				break
			}
			v += math.Sin(float64(h)*phase) / float64(h)
		}
		out[i] = int16(6000*env*v + 200*r.NormFloat64())
	}
	return out
}

// alignedSNR finds the delay (0..maxDelay) that best aligns got with ref
// and returns the SNR in dB over ref[skip:], and the delay found.
func alignedSNR(ref, got []int16, skip, maxDelay int) (snr float64, delay int) {
	best := math.Inf(-1)
	for d := 0; d <= maxDelay; d++ {
		var sig, noise float64
		for i := skip; i+d < len(got) && i < len(ref); i++ {
			s := float64(ref[i])
			e := float64(got[i+d]) - s
			sig += s * s
			noise += e * e
		}
		v := 10 * math.Log10(sig/math.Max(noise, 1e-9))
		if v > best {
			best, delay = v, d
		}
	}
	return best, delay
}

func rms(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

func TestRoundTripSine(t *testing.T) {
	// 1 kHz at -10 dBFS, 32 kbit/s, complexity 10, 20 ms frames. Measured
	// on the development machine: 21.0 dB (8 kHz), 21.1 dB (16 kHz) and
	// 16.5 dB (48 kHz, hybrid mode) SNR, level within 0.2 dB. The bounds
	// leave a margin for other libopus builds.
	tests := []struct {
		name   string
		rate   int
		minSNR float64
	}{
		{"8kHz", 8000, 18},
		{"16kHz", 16000, 18},
		{"48kHz", 48000, 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: tc.rate, Bitrate: 32000, Complexity: 10})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewDecoder(DecoderConfig{SampleRate: tc.rate})
			if err != nil {
				t.Fatal(err)
			}
			frame := enc.FrameSamples()
			if want := tc.rate / 50; frame != want {
				t.Fatalf("FrameSamples = %d, want %d", frame, want)
			}
			in := sine(tc.rate, 50*frame, 1000, 0.316*32767) // -10 dBFS, 1 s
			out := make([]int16, 0, len(in))
			pkt := make([]byte, MaxPacketBytes)
			pcm := make([]int16, frame)
			for off := 0; off < len(in); off += frame {
				n, err := enc.Encode(in[off:off+frame], pkt)
				if err != nil {
					t.Fatal(err)
				}
				m, err := dec.Decode(pkt[:n], pcm)
				if err != nil {
					t.Fatal(err)
				}
				if m != frame {
					t.Fatalf("decoded %d samples, want %d", m, frame)
				}
				out = append(out, pcm[:m]...)
			}
			// Skip 200 ms of start-up, search up to 10 ms for the codec delay
			// (6.5 ms in libopus VoIP mode).
			snr, delay := alignedSNR(in[:len(in)-frame], out, tc.rate/5, tc.rate/100)
			lvl := 20 * math.Log10(rms(out[tc.rate/5:])/rms(in[tc.rate/5:]))
			t.Logf("SNR %.1f dB, level %+.2f dB, delay %d samples (%.2f ms)", snr, lvl, delay, 1000*float64(delay)/float64(tc.rate))
			if snr < tc.minSNR {
				t.Errorf("SNR %.1f dB, want >= %.1f", snr, tc.minSNR)
			}
			if math.Abs(lvl) > 1 {
				t.Errorf("level changed by %.2f dB, want within 1 dB", lvl)
			}
		})
	}
}

// lostFrameError encodes a speech-like signal with FEC, loses packet k,
// and returns the squared error of the FEC and PLC reconstructions of
// frame k against the loss-free decode.
func lostFrameError(t *testing.T, k int) (fecErr, plcErr float64) {
	t.Helper()
	const rate = 16000
	enc, err := NewEncoder(EncoderConfig{SampleRate: rate, Bitrate: 24000, FEC: true, PacketLossPercent: 20})
	if err != nil {
		t.Fatal(err)
	}
	frame := enc.FrameSamples()
	in := speechLike(rate, 30*frame)
	var pkts [][]byte
	buf := make([]byte, MaxPacketBytes)
	for off := 0; off < len(in); off += frame {
		n, err := enc.Encode(in[off:off+frame], buf)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, append([]byte(nil), buf[:n]...))
	}
	// decodeWith decodes packets 0..k-1, then conceals frame k with
	// conceal, returning frame k.
	decodeWith := func(conceal func(d *Decoder, pcm []int16) error) []int16 {
		d, err := NewDecoder(DecoderConfig{SampleRate: rate})
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, frame)
		for i := 0; i < k; i++ {
			if _, err := d.Decode(pkts[i], pcm); err != nil {
				t.Fatal(err)
			}
		}
		if err := conceal(d, pcm); err != nil {
			t.Fatal(err)
		}
		return pcm
	}
	ref := decodeWith(func(d *Decoder, pcm []int16) error { _, err := d.Decode(pkts[k], pcm); return err })
	fec := decodeWith(func(d *Decoder, pcm []int16) error { _, err := d.DecodeFEC(pkts[k+1], pcm); return err })
	plc := decodeWith(func(d *Decoder, pcm []int16) error { _, err := d.PLC(pcm); return err })
	for i := range ref {
		e1 := float64(fec[i]) - float64(ref[i])
		e2 := float64(plc[i]) - float64(ref[i])
		fecErr += e1 * e1
		plcErr += e2 * e2
	}
	return fecErr, plcErr
}

func TestFECBeatsPLC(t *testing.T) {
	for _, k := range []int{10, 17, 23} {
		fecErr, plcErr := lostFrameError(t, k)
		t.Logf("frame %d: FEC error %.3g, PLC error %.3g (%.1f dB better)", k, fecErr, plcErr, 10*math.Log10(plcErr/fecErr))
		if !(fecErr < plcErr) {
			t.Errorf("frame %d: FEC error %.3g not below PLC error %.3g", k, fecErr, plcErr)
		}
	}
}

func TestDTXSilence(t *testing.T) {
	const rate = 16000
	sizes := func(dtx bool) (total, small int) {
		enc, err := NewEncoder(EncoderConfig{SampleRate: rate, DTX: dtx})
		if err != nil {
			t.Fatal(err)
		}
		silence := make([]int16, enc.FrameSamples())
		buf := make([]byte, MaxPacketBytes)
		for i := 0; i < 150; i++ { // 3 s
			n, err := enc.Encode(silence, buf)
			if err != nil {
				t.Fatal(err)
			}
			if i >= 50 { // judge the last 2 s
				total += n
				if n <= 2 {
					small++
				}
			}
		}
		if dtx && !enc.InDTX() {
			t.Error("InDTX false after 3 s of silence")
		}
		return total, small
	}
	dtxBytes, dtxSmall := sizes(true)
	plainBytes, _ := sizes(false)
	t.Logf("2 s of silence: %d bytes with DTX (%d of 100 packets <= 2 bytes), %d bytes without", dtxBytes, dtxSmall, plainBytes)
	if dtxSmall < 90 {
		t.Errorf("%d of 100 DTX packets were <= 2 bytes, want >= 90", dtxSmall)
	}
	if dtxBytes*4 > plainBytes {
		t.Errorf("DTX sent %d bytes, not a quarter of %d", dtxBytes, plainBytes)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  EncoderConfig
	}{
		{"rate", EncoderConfig{SampleRate: 44100}},
		{"channels", EncoderConfig{Channels: 3}},
		{"frame", EncoderConfig{FrameDuration: 30 * time.Millisecond}},
		{"bitrate low", EncoderConfig{Bitrate: 100}},
		{"bitrate high", EncoderConfig{Bitrate: 1e6}},
		{"complexity", EncoderConfig{Complexity: 11}},
		{"loss", EncoderConfig{PacketLossPercent: 101}},
		{"bandwidth", EncoderConfig{MaxBandwidthHz: 5000}},
		{"application", EncoderConfig{Application: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewEncoder(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := NewDecoder(DecoderConfig{SampleRate: 22050}); !errors.Is(err, ErrConfig) {
		t.Fatalf("decoder rate: err = %v, want ErrConfig", err)
	}
	if _, err := NewDecoder(DecoderConfig{Channels: 5}); !errors.Is(err, ErrConfig) {
		t.Fatalf("decoder channels: err = %v, want ErrConfig", err)
	}
}

func TestFrameSizesAndStereo(t *testing.T) {
	for _, ms := range []int{10, 20, 40, 60} {
		for _, ch := range []int{1, 2} {
			enc, err := NewEncoder(EncoderConfig{SampleRate: 8000, Channels: ch, FrameDuration: time.Duration(ms) * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewDecoder(DecoderConfig{SampleRate: 8000, Channels: ch})
			if err != nil {
				t.Fatal(err)
			}
			frame := enc.FrameSamples()
			if frame != 8*ms {
				t.Fatalf("%d ms: FrameSamples = %d", ms, frame)
			}
			pkt := make([]byte, MaxPacketBytes)
			if _, err := enc.Encode(make([]int16, frame*ch+1), pkt); !errors.Is(err, ErrFrameSize) {
				t.Fatalf("%d ms x%d: wrong size err = %v, want ErrFrameSize", ms, ch, err)
			}
			n, err := enc.Encode(sine(8000, frame*ch, 500, 8000), pkt)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := PacketSamples(pkt[:n], 8000); err != nil || got != frame {
				t.Fatalf("%d ms x%d: PacketSamples = %d, %v; want %d", ms, ch, got, err, frame)
			}
			if _, err := dec.Decode(pkt[:n], make([]int16, frame*ch-1)); !errors.Is(err, ErrBufferTooSmall) {
				t.Fatalf("%d ms x%d: short buffer err = %v, want ErrBufferTooSmall", ms, ch, err)
			}
			m, err := dec.Decode(pkt[:n], make([]int16, 960*ch))
			if err != nil || m != frame {
				t.Fatalf("%d ms x%d: Decode = %d, %v; want %d", ms, ch, m, err, frame)
			}
			if dec.LastPacketSamples() != frame {
				t.Fatalf("LastPacketSamples = %d, want %d", dec.LastPacketSamples(), frame)
			}
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	dec, err := NewDecoder(DecoderConfig{SampleRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 5760)
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrInvalidPacket},
		{"code 1 odd", []byte{0x01, 1, 2, 3}, ErrInvalidPacket},
		{"code 2 overrun", []byte{0x02, 200, 1}, ErrInvalidPacket},
		{"code 3 no count", []byte{0x03}, ErrInvalidPacket},
		{"code 3 zero frames", []byte{0x03, 0x00}, ErrInvalidPacket},
		{"code 3 over 120 ms", []byte{0x03 | 3<<3, 0x03}, ErrInvalidPacket}, // 3 x 60 ms
		{"code 3 padding overrun", []byte{0x03, 0x41, 9}, ErrInvalidPacket},
		{"code 3 cbr uneven", []byte{0x03, 0x02, 1, 2, 3}, ErrInvalidPacket},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dec.Decode(tc.pkt, pcm); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	for _, n := range []int{0, 7, 5761} {
		if _, err := dec.PLC(make([]int16, n)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("PLC(%d samples): err = %v, want ErrFrameSize", n, err)
		}
	}
	if _, err := dec.DecodeFEC(nil, make([]int16, 960)); !errors.Is(err, ErrInvalidPacket) {
		t.Errorf("DecodeFEC(nil): err = %v, want ErrInvalidPacket", err)
	}
}

func TestNoAllocs(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{SampleRate: 16000, FEC: true})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(DecoderConfig{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	in := speechLike(16000, 320)
	pkt := make([]byte, MaxPacketBytes)
	pcm := make([]int16, 320)
	allocs := testing.AllocsPerRun(50, func() {
		n, err := enc.Encode(in, pkt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dec.DecodeFEC(pkt[:n], pcm); err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Decode(pkt[:n], pcm); err != nil {
			t.Fatal(err)
		}
		if _, err := dec.PLC(pcm); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame, want 0", allocs)
	}
}

// TestCrossRateDecode decodes packets of a 48 kHz encoder at 8 kHz, as a
// WebRTC-to-G.711 leg does: libopus resamples inside the decoder.
// Measured: 15.0 dB SNR (1 kHz, -10 dBFS, 32 kbit/s); asserted >= 12 dB.
func TestCrossRateDecode(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{SampleRate: 48000, Bitrate: 32000, Complexity: 10})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(DecoderConfig{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	in := sine(48000, 48000, 1000, 0.316*32767)
	ref := sine(8000, 8000, 1000, 0.316*32767)
	pkt := make([]byte, MaxPacketBytes)
	pcm := make([]int16, 160)
	var out []int16
	for off := 0; off < len(in); off += 960 {
		n, err := enc.Encode(in[off:off+960], pkt)
		if err != nil {
			t.Fatal(err)
		}
		m, err := dec.Decode(pkt[:n], pcm)
		if err != nil || m != 160 {
			t.Fatalf("Decode = %d, %v; want 160 samples", m, err)
		}
		out = append(out, pcm...)
	}
	snr, delay := alignedSNR(ref[:len(ref)-160], out, 1600, 80)
	t.Logf("48 kHz encode, 8 kHz decode: SNR %.1f dB, delay %d samples", snr, delay)
	if snr < 12 {
		t.Errorf("SNR %.1f dB, want >= 12", snr)
	}
}
