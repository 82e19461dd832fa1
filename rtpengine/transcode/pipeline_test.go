//go:build cgo

package transcode

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
)

// rtp builds an RTP packet.
func rtp(pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	copy(b[12:], payload)
	return b
}

// source encodes a tone as a real peer would: 20 ms frames of name at
// the codec's natural rate (Opus at 48 kHz).
type source struct {
	t     *testing.T
	name  string
	pt    uint8
	rate  int
	clock int
	freq  float64
	amp   float64
	pos   int
	seq   uint16
	ts    uint32
	opus  *opus.Encoder
	g722  *g722.Encoder
}

func newSource(t *testing.T, name string, pt uint8, freq, amp float64) *source {
	s := &source{t: t, name: name, pt: pt, rate: 8000, clock: 8000, freq: freq, amp: amp, seq: 1000, ts: 5000}
	switch name {
	case Opus:
		s.rate, s.clock = 48000, 48000
		e, err := opus.NewEncoder(opus.EncoderConfig{SampleRate: 48000, FEC: true}) // as with useinbandfec=1
		if err != nil {
			t.Fatal(err)
		}
		s.opus = e
	case G722:
		s.rate = 16000
		s.g722 = g722.NewEncoder()
	}
	return s
}

// next returns the next 20 ms packet.
func (s *source) next() []byte {
	n := s.rate / 50
	pcm := audiocheck.Sine(s.rate, s.pos, n, s.freq, s.amp)
	s.pos += n
	return s.encode(pcm)
}

// encode sends 20 ms of PCM at the source's rate as the next packet.
func (s *source) encode(pcm []int16) []byte {
	out := make([]byte, 4000)
	var k int
	var err error
	switch s.name {
	case PCMU:
		k = codecs.UlawEncodeFrame(out, pcm)
	case PCMA:
		k = codecs.AlawEncodeFrame(out, pcm)
	case G722:
		k, err = s.g722.Encode(out, pcm)
	case Opus:
		k, err = s.opus.Encode(pcm, out)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	p := rtp(s.pt, s.seq == 1000, s.seq, s.ts, 0xabcdef, out[:k])
	s.seq++
	s.ts += uint32(s.clock / 50)
	return p
}

// sink decodes what a pipeline outputs, as the far peer would.
type sink struct {
	t    *testing.T
	name string
	rate int
	pcm  []int16
	pkts []rtpHeader
	opus *opus.Decoder
	g722 *g722.Decoder
	buf  [5760]int16
}

func newSink(t *testing.T, name string) *sink {
	s := &sink{t: t, name: name, rate: 8000}
	switch name {
	case Opus:
		s.rate = 48000
		d, err := opus.NewDecoder(opus.DecoderConfig{})
		if err != nil {
			t.Fatal(err)
		}
		s.opus = d
	case G722:
		s.rate = 16000
		s.g722 = g722.NewDecoder()
	}
	return s
}

func (s *sink) output(b []byte) {
	var h rtpHeader
	if err := parseRTP(b, &h); err != nil {
		s.t.Errorf("pipeline sent a bad packet: %v", err)
		return
	}
	h.payload = append([]byte(nil), h.payload...)
	s.pkts = append(s.pkts, h)
	if h.pt == 101 || h.pt == 96 {
		return // telephone-events
	}
	var n int
	var err error
	switch s.name {
	case PCMU:
		n = codecs.UlawDecodeFrame(s.buf[:], h.payload)
	case PCMA:
		n = codecs.AlawDecodeFrame(s.buf[:], h.payload)
	case G722:
		n, err = s.g722.Decode(s.buf[:], h.payload)
	case Opus:
		n, err = s.opus.Decode(h.payload, s.buf[:])
	}
	if err != nil {
		s.t.Errorf("decode %s: %v", s.name, err)
	}
	s.pcm = append(s.pcm, s.buf[:n]...)
}

var ptOf = map[string]uint8{PCMU: 0, PCMA: 8, G722: 9, Opus: 111}

// TestToneQuality sends a 1 kHz tone (about -10 dBFS) through each
// required path and checks frequency, level and SNR at the far end.
func TestToneQuality(t *testing.T) {
	tests := []struct {
		in, out string
		minSNR  float64
		maxDB   float64 // level error
	}{
		{Opus, PCMU, 30, 0.5},
		{PCMU, Opus, 30, 0.5}, // restricted low delay, complexity 0 at 32 kbit/s (the defaults)
		{Opus, PCMA, 30, 0.5},
		{PCMA, Opus, 30, 0.5},
		{G722, PCMA, 33, 0.5},
		{PCMA, G722, 33, 0.5},
		{G722, PCMU, 33, 0.5},
		{PCMU, G722, 33, 0.5},
		{Opus, G722, 35, 0.5},
		{G722, Opus, 29, 0.5}, // 31 dB: CELT at 16 kHz input (VoIP: 44 dB for 2.4 times the CPU, docs/dsp.md)
	}
	for _, tc := range tests {
		t.Run(tc.in+"_to_"+tc.out, func(t *testing.T) {
			const amp = 10000.0
			src := newSource(t, tc.in, ptOf[tc.in], 1000, amp)
			dst := newSink(t, tc.out)
			p, err := New(Config{In: Codec{Name: tc.in, PT: ptOf[tc.in]}, Out: Codec{Name: tc.out, PT: ptOf[tc.out]}, Output: dst.output})
			if err != nil {
				t.Fatal(err)
			}
			for range 100 { // 2 s
				if err := p.HandleRTP(src.next()); err != nil {
					t.Fatal(err)
				}
			}
			got := len(dst.pcm)
			if want := 2 * dst.rate; got < want-dst.rate/25 || got > want {
				t.Fatalf("decoded %d samples, want about %d", got, want)
			}
			tone := audiocheck.Analyse(dst.pcm[dst.rate/5:], dst.rate) // skip 200 ms of codec start-up
			if math.Abs(tone.Freq-1000) > 1 {
				t.Errorf("frequency %.2f Hz, want 1000", tone.Freq)
			}
			if d := audiocheck.DB(tone.Amplitude, amp); math.Abs(d) > tc.maxDB {
				t.Errorf("level %+.2f dB off (amplitude %.0f)", d, tone.Amplitude)
			}
			if tone.SNR < tc.minSNR {
				t.Errorf("SNR %.1f dB, want >= %.0f", tone.SNR, tc.minSNR)
			}
			t.Logf("%s: %.2f Hz, %+.2f dB, SNR %.1f dB", p, tone.Freq, audiocheck.DB(tone.Amplitude, amp), tone.SNR)
			checkHeaders(t, dst.pkts, p.step)
		})
	}
}

// checkHeaders: one SSRC, consecutive sequence numbers, timestamps one
// frame apart, marker on the first packet only.
func checkHeaders(t *testing.T, pkts []rtpHeader, step uint32) {
	t.Helper()
	for i, h := range pkts {
		if h.marker != (i == 0) {
			t.Errorf("packet %d marker %v", i, h.marker)
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		if h.ssrc != prev.ssrc || h.seq != prev.seq+1 || h.ts != prev.ts+step {
			t.Fatalf("packet %d: ssrc %x seq %d ts %d after ssrc %x seq %d ts %d (step %d)",
				i, h.ssrc, h.seq, h.ts, prev.ssrc, prev.seq, prev.ts, step)
		}
	}
}

// TestDelay measures how far the output runs behind the input for a tone
// that starts after silence.
func TestDelay(t *testing.T) {
	tests := []struct {
		in, out string
		max     time.Duration
	}{
		{PCMU, PCMA, 5 * time.Millisecond},  // PLC delay line only
		{G722, PCMU, 12 * time.Millisecond}, // + G.722 QMF and the resampler
		{Opus, PCMU, 15 * time.Millisecond}, // + Opus look-ahead
	}
	for _, tc := range tests {
		t.Run(tc.in+"_to_"+tc.out, func(t *testing.T) {
			src := newSource(t, tc.in, ptOf[tc.in], 1000, 0)
			dst := newSink(t, tc.out)
			p, err := New(Config{In: Codec{Name: tc.in, PT: ptOf[tc.in]}, Out: Codec{Name: tc.out, PT: ptOf[tc.out]}, Output: dst.output})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				if i == 25 {
					src.amp = 10000 // the tone starts at 500 ms
				}
				if err := p.HandleRTP(src.next()); err != nil {
					t.Fatal(err)
				}
			}
			on := audiocheck.Onset(dst.pcm, 5000)
			if on < 0 {
				t.Fatal("no tone came out")
			}
			d := time.Duration(on)*time.Second/time.Duration(dst.rate) - 500*time.Millisecond
			t.Logf("%s: %v", p, d)
			if d < 0 || d > tc.max {
				t.Errorf("delay %v, want 0..%v", d, tc.max)
			}
		})
	}
}

// TestRepacketise: 20 ms PCMU in, 10/30/40 ms PCMA out.
func TestRepacketise(t *testing.T) {
	for _, ms := range []int{10, 20, 30, 40} {
		t.Run(time.Duration(ms*1e6).String(), func(t *testing.T) {
			src := newSource(t, PCMU, 0, 1000, 8000)
			dst := newSink(t, PCMA)
			p, err := New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8},
				Ptime: time.Duration(ms) * time.Millisecond, Output: dst.output})
			if err != nil {
				t.Fatal(err)
			}
			for range 30 {
				_ = p.HandleRTP(src.next())
			}
			if want := 600 / ms; len(dst.pkts) != want {
				t.Errorf("%d packets, want %d", len(dst.pkts), want)
			}
			for i, h := range dst.pkts {
				if len(h.payload) != 8*ms || h.pt != 8 {
					t.Fatalf("packet %d: pt %d, %d bytes", i, h.pt, len(h.payload))
				}
			}
			checkHeaders(t, dst.pkts, uint32(8*ms))
		})
	}
}

// TestLossAndReorder: reordered packets are put back in order without
// concealment; lost ones are concealed (Opus FEC/PLC, G.711 PLC) and the
// outgoing timeline has no hole.
func TestLossAndReorder(t *testing.T) {
	tests := []struct {
		name      string
		in, out   string
		drop      map[int]bool
		swap      map[int]bool // send i+1 before i
		concealed uint64
		minSNR    float64
	}{
		{"opus reorder", Opus, PCMU, nil, map[int]bool{10: true, 30: true, 61: true}, 0, 25},
		{"opus 5% loss", Opus, PCMU, map[int]bool{20: true, 40: true, 41: true, 60: true, 80: true}, nil, 5, 6},
		{"pcmu 5% loss", PCMU, Opus, map[int]bool{20: true, 40: true, 41: true, 60: true, 80: true}, nil, 5, 6},
		{"g722 loss and reorder", G722, PCMA, map[int]bool{33: true}, map[int]bool{50: true}, 1, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, tc.in, ptOf[tc.in], 1000, 10000)
			dst := newSink(t, tc.out)
			p, err := New(Config{In: Codec{Name: tc.in, PT: ptOf[tc.in]}, Out: Codec{Name: tc.out, PT: ptOf[tc.out]}, Output: dst.output})
			if err != nil {
				t.Fatal(err)
			}
			pkts := make([][]byte, 100)
			for i := range pkts {
				pkts[i] = src.next()
			}
			for i := 0; i < len(pkts); i++ {
				if tc.swap[i] {
					_ = p.HandleRTP(pkts[i+1])
					_ = p.HandleRTP(pkts[i])
					i++
					continue
				}
				if !tc.drop[i] {
					_ = p.HandleRTP(pkts[i])
				}
			}
			st := p.Stats()
			if st.Concealed != tc.concealed || st.Late != 0 {
				t.Errorf("stats %+v, want %d concealed", st, tc.concealed)
			}
			// The last packets wait in the reorder buffer only when a
			// loss is pending; everything up to the end came out.
			if want := 100 - DefaultDepth; len(dst.pkts) < want {
				t.Errorf("%d packets out, want >= %d", len(dst.pkts), want)
			}
			checkHeaders(t, dst.pkts, p.step)
			tone := audiocheck.Analyse(dst.pcm[dst.rate/5:], dst.rate)
			if math.Abs(tone.Freq-1000) > 1 || tone.SNR < tc.minSNR {
				t.Errorf("tone %.2f Hz SNR %.1f dB, want 1000 Hz and >= %.0f dB", tone.Freq, tone.SNR, tc.minSNR)
			}
		})
	}
}

// TestDuplicateAndLate: a duplicate and a packet older than the playout
// point are dropped and counted.
func TestDuplicateAndLate(t *testing.T) {
	src := newSource(t, PCMU, 0, 1000, 8000)
	dst := newSink(t, PCMA)
	p, err := New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8}, Output: dst.output})
	if err != nil {
		t.Fatal(err)
	}
	a, b := src.next(), src.next()
	for _, pk := range [][]byte{a, b, b, a} {
		_ = p.HandleRTP(pk)
	}
	if st := p.Stats(); st.Late != 2 || st.PacketsOut != 2 {
		t.Errorf("stats %+v, want 2 late and 2 out", st)
	}
}

// TestSilenceGap: a timestamp jump (DTX, silence suppression) keeps the
// outgoing timeline and marks the new talkspurt.
func TestSilenceGap(t *testing.T) {
	src := newSource(t, PCMU, 0, 1000, 8000)
	dst := newSink(t, PCMA)
	p, err := New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8}, Output: dst.output})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = p.HandleRTP(src.next())
	}
	src.ts += 8000 // one second of silence, same sequence
	pk := src.next()
	pk[1] |= 0x80
	_ = p.HandleRTP(pk)
	_ = p.HandleRTP(src.next())
	h := dst.pkts
	if len(h) != 7 {
		t.Fatalf("%d packets", len(h))
	}
	if !h[5].marker || h[6].marker || h[5].ts-h[4].ts != 160+8000 || h[5].seq != h[4].seq+1 {
		t.Errorf("after the gap: marker %v ts +%d seq +%d", h[5].marker, h[5].ts-h[4].ts, h[5].seq-h[4].seq)
	}
}

// TestTelephoneEvent: RFC 4733 events are re-mapped to the other side's
// payload type and timestamp space, durations rescaled to its clock.
func TestTelephoneEvent(t *testing.T) {
	src := newSource(t, Opus, 111, 1000, 8000)
	dst := newSink(t, PCMU)
	p, err := New(Config{In: Codec{Name: Opus, PT: 111}, Out: Codec{Name: PCMU}, InEventPT: 110, OutEventPT: 101, Output: dst.output})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = p.HandleRTP(src.next())
	}
	evTS := src.ts // the event starts where the next audio frame would
	for i, dur := range []uint16{960, 1920, 2880, 2880} {
		ev := []byte{5, 10, byte(dur >> 8), byte(dur)}
		if i == 3 {
			ev[1] |= 0x80 // end
		}
		_ = p.HandleRTP(rtp(110, i == 0, src.seq, evTS, 0xabcdef, ev))
		src.seq++
	}
	var evs []rtpHeader
	for _, h := range dst.pkts {
		if h.pt == 101 {
			evs = append(evs, h)
		}
	}
	if len(evs) != 4 {
		t.Fatalf("%d events out", len(evs))
	}
	last := dst.pkts[4] // the fifth audio packet
	for i, h := range evs {
		if h.ts != last.ts+160 || h.marker != (i == 0) {
			t.Errorf("event %d: ts %d (audio ended at %d), marker %v", i, h.ts, last.ts+160, h.marker)
		}
		if d := binary.BigEndian.Uint16(h.payload[2:]); d != []uint16{160, 320, 480, 480}[i] {
			t.Errorf("event %d duration %d", i, d)
		}
	}
	if evs[0].seq != last.seq+1 {
		t.Errorf("event seq %d after audio %d", evs[0].seq, last.seq)
	}
	if st := p.Stats(); st.Events != 4 {
		t.Errorf("events %d", st.Events)
	}
}

// TestSenderReport checks the RTCP SR a pipeline generates.
func TestSenderReport(t *testing.T) {
	src := newSource(t, PCMU, 0, 1000, 8000)
	dst := newSink(t, PCMA)
	p, err := New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8}, SSRC: 0x1234, Output: dst.output})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		pk := src.next()
		if i != 4 {
			_ = p.HandleRTP(pk)
		}
	}
	sr := p.AppendSenderReport(nil, time.Unix(1e9, 0))
	if len(sr) != 52 || sr[0] != 0x81 || sr[1] != 200 || binary.BigEndian.Uint16(sr[2:]) != 12 {
		t.Fatalf("SR header % x", sr[:4])
	}
	if ssrc := binary.BigEndian.Uint32(sr[4:]); ssrc != 0x1234 {
		t.Errorf("ssrc %x", ssrc)
	}
	if n := binary.BigEndian.Uint32(sr[20:]); n != uint32(len(dst.pkts)) {
		t.Errorf("packet count %d, sent %d", n, len(dst.pkts))
	}
	if src := binary.BigEndian.Uint32(sr[28:]); src != 0xabcdef {
		t.Errorf("report about %x", src)
	}
	if lost := binary.BigEndian.Uint32(sr[32:]) & 0xffffff; lost != 1 {
		t.Errorf("cumulative lost %d, want 1", lost)
	}
	if ext := binary.BigEndian.Uint32(sr[36:]); ext != 1009 {
		t.Errorf("highest seq %d, want 1009", ext)
	}
}

func TestConfigErrors(t *testing.T) {
	out := func([]byte) {}
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"unknown codec", Config{In: Codec{Name: "g729"}, Out: Codec{Name: PCMU}, Output: out}, ErrCodec},
		{"no output", Config{In: Codec{Name: PCMA}, Out: Codec{Name: PCMU}}, ErrConfig},
		{"ptime 25", Config{In: Codec{Name: PCMA}, Out: Codec{Name: PCMU}, Ptime: 25 * time.Millisecond, Output: out}, ErrConfig},
		{"opus 30 ms", Config{In: Codec{Name: PCMA}, Out: Codec{Name: Opus}, Ptime: 30 * time.Millisecond, Output: out}, ErrConfig},
		{"depth 9", Config{In: Codec{Name: PCMA}, Out: Codec{Name: PCMU}, Depth: 9, Output: out}, ErrConfig},
		{"pt 200", Config{In: Codec{Name: PCMA, PT: 200}, Out: Codec{Name: PCMU}, Output: out}, ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBadPackets(t *testing.T) {
	p, err := New(Config{In: Codec{Name: Opus, PT: 111}, Out: Codec{Name: PCMU}, Output: func([]byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, {0x80}, {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x9f, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if err := p.HandleRTP(b); !errors.Is(err, ErrPacket) {
			t.Errorf("% x: err %v", b, err)
		}
	}
	if err := p.HandleRTP(rtp(13, false, 1, 1, 1, []byte{40})); !errors.Is(err, ErrPayloadType) {
		t.Errorf("comfort noise: %v", err)
	}
	_ = p.HandleRTP(rtp(111, false, 2, 1, 1, []byte{0xff, 0xff, 0xff})) // undecodable Opus
	if st := p.Stats(); st.Errors < 5 || st.Ignored != 1 {
		t.Errorf("stats %+v", st)
	}
}

func FuzzHandleRTP(f *testing.F) {
	f.Add(rtp(111, true, 1, 960, 7, []byte{0x78, 1, 2, 3}))
	f.Add(rtp(101, false, 2, 960, 7, []byte{1, 0x80, 0, 160}))
	f.Add([]byte{0xb0, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := New(Config{In: Codec{Name: Opus, PT: 111}, Out: Codec{Name: PCMA, PT: 8}, InEventPT: 101, OutEventPT: 96,
			Output: func(pkt []byte) {
				var h rtpHeader
				if err := parseRTP(pkt, &h); err != nil {
					t.Fatalf("bad output: %v", err)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			_ = p.HandleRTP(b)
			if len(b) > 3 {
				b[3]++
			}
		}
	})
}

// TestDefaultOpusComplexity: unset, the encoder's complexity follows its
// application (the restricted low-delay encoder 0, written -1; VoIP and
// FEC, which needs the VoIP modes, DefaultOpusComplexityVoIP); set, it
// is kept.
func TestDefaultOpusComplexity(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want int
	}{
		{Config{}, -1},
		{Config{OpusVoIP: true}, DefaultOpusComplexityVoIP},
		{Config{OpusFEC: true}, DefaultOpusComplexityVoIP},
		{Config{OpusComplexity: 5}, 5},
		{Config{OpusComplexity: -1, OpusVoIP: true}, -1},
	} {
		c := tt.c
		c.In, c.Out, c.Output = Codec{Name: PCMU}, Codec{Name: Opus, PT: 111}, func([]byte) {}
		if err := c.normalise(); err != nil || c.OpusComplexity != tt.want {
			t.Errorf("%+v: complexity %d (%v), want %d", tt.c, c.OpusComplexity, err, tt.want)
		}
	}
}
