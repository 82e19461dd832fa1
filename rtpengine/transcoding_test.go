//go:build cgo

package rtpengine

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
)

// codecPeer encodes and decodes one codec as a real endpoint would
// (Opus at 48 kHz, G.722 at 16 kHz, G.711 at 8 kHz).
type codecPeer struct {
	name  string
	pt    uint8
	rate  int
	clock int
	enc   *opus.Encoder
	dec   *opus.Decoder
	genc  *g722.Encoder
	gdec  *g722.Decoder
}

func newCodecPeer(t testing.TB, name string, pt uint8) *codecPeer {
	c := &codecPeer{name: name, pt: pt, rate: 8000, clock: 8000}
	switch name {
	case "opus":
		c.rate, c.clock = 48000, 48000
		var err error
		if c.enc, err = opus.NewEncoder(opus.EncoderConfig{FEC: true}); err != nil {
			t.Fatal(err)
		}
		if c.dec, err = opus.NewDecoder(opus.DecoderConfig{}); err != nil {
			t.Fatal(err)
		}
	case "g722":
		c.rate = 16000
		c.genc, c.gdec = g722.NewEncoder(), g722.NewDecoder()
	}
	return c
}

// narrowband makes an Opus peer's encoder code narrowband audio, as an
// endpoint does that honours maxplaybackrate=8000.
func narrowband(t testing.TB, c *codecPeer) *codecPeer {
	e, err := opus.NewEncoder(opus.EncoderConfig{FEC: true, MaxBandwidthHz: 4000})
	if err != nil {
		t.Fatal(err)
	}
	c.enc = e
	return c
}

func (c *codecPeer) encode(t testing.TB, pcm []int16) []byte {
	out := make([]byte, 1500)
	var n int
	var err error
	switch c.name {
	case "pcmu":
		n = codecs.UlawEncodeFrame(out, pcm)
	case "pcma":
		n = codecs.AlawEncodeFrame(out, pcm)
	case "g722":
		n, err = c.genc.Encode(out, pcm)
	case "opus":
		n, err = c.enc.Encode(pcm, out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out[:n]
}

func (c *codecPeer) decode(t testing.TB, payload []byte) []int16 {
	pcm := make([]int16, 5760)
	var n int
	var err error
	switch c.name {
	case "pcmu":
		n = codecs.UlawDecodeFrame(pcm, payload)
	case "pcma":
		n = codecs.AlawDecodeFrame(pcm, payload)
	case "g722":
		n, err = c.gdec.Decode(pcm, payload)
	case "opus":
		n, err = c.dec.Decode(payload, pcm)
	}
	if err != nil {
		t.Errorf("decode %s: %v", c.name, err)
	}
	return pcm[:n]
}

// stream sends frames of a tone at freq from p to dst every 20 ms for d,
// ending with a telephone-event (digit 5) when evPT is set.
func stream(t testing.TB, p *peer, dst netip.AddrPort, c *codecPeer, freq float64, d time.Duration, evPT uint8) {
	n := c.rate / 50
	seq, ts, pos := uint16(100), uint32(1000), 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < int(d/(20*time.Millisecond)); i++ {
		<-tick.C
		payload := c.encode(t, audiocheck.Sine(c.rate, pos, n, freq, 10000))
		pos += n
		pkt := append(rtpPacket(c.pt, seq, ts, 0x5eed, 0)[:12], payload...)
		if i == 0 {
			pkt[1] |= 0x80
		}
		p.send(pkt, dst)
		seq++
		ts += uint32(c.clock / 50)
	}
	if evPT != 0 {
		for i, end := range []bool{false, false, true} {
			ev := []byte{5, 10, 0, byte(40 * (i + 1))}
			if end {
				ev[1] |= 0x80
			}
			pkt := append(rtpPacket(evPT, seq, ts, 0x5eed, 0)[:12], ev...)
			if i == 0 {
				pkt[1] |= 0x80
			}
			p.send(pkt, dst)
			seq++
		}
	}
}

// collect reads RTP at p until quiet for 300 ms; it decodes payloads of
// c.pt and returns the audio and the payload types seen.
func collect(t testing.TB, p *peer, c *codecPeer) ([]int16, map[uint8]int) {
	var pcm []int16
	pts := map[uint8]int{}
	for {
		b, _, ok := p.recv(300 * time.Millisecond)
		if !ok {
			return pcm, pts
		}
		if len(b) < 12 || b[1]&0x7f >= 72 && b[1]&0x7f <= 76 {
			continue // RTCP on the muxed port
		}
		pt := b[1] & 0x7f
		pts[pt]++
		if pt == c.pt {
			pcm = append(pcm, c.decode(t, b[12:])...)
		}
	}
}

func xcodeSDP(port uint16, formats string, attrs ...string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"m=audio " + itoa(int(port)) + " RTP/AVP " + formats}
	lines = append(lines, attrs...)
	lines = append(lines, "a=sendrecv")
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// mLine returns the first m= line of an SDP.
func mLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "m=") {
			return l
		}
	}
	return ""
}

// TestTranscodedCall runs a call whose legs share no codec through the
// engine on real sockets: A's peer sends a 1 kHz tone in its codec, B's
// peer a 600 Hz tone in its own; each far side decodes and checks the
// tone's frequency, level and SNR; telephone-events are re-mapped.
func TestTranscodedCall(t *testing.T) {
	tests := []struct {
		name         string
		base         int
		aSDP         []byte
		keep         []string
		bAnswer      func(port uint16) []byte
		wantOfferM   string
		wantAnswerM  string
		wantFmtp     string // in the answer to A
		a, b         *codecPeer
		aEvPT, bEvPT uint8
		minSNR       float64
		inline       bool
	}{
		{
			name: "opus to pcmu", base: 42400,
			aSDP: xcodeSDP(0, "111 110", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 useinbandfec=1", "a=rtpmap:110 telephone-event/48000"),
			keep: []string{"PCMU", "telephone-event"},
			bAnswer: func(port uint16) []byte {
				return xcodeSDP(port, "0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=ptime:20")
			},
			wantOfferM: "RTP/AVP 0 101", wantAnswerM: "RTP/AVP 111 110",
			wantFmtp: "a=fmtp:111 useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000",
			a:        newCodecPeer(t, "opus", 111), b: newCodecPeer(t, "pcmu", 0), aEvPT: 110, bEvPT: 101, minSNR: 25,
		},
		{
			// The Opus peer keeps to the maxplaybackrate=8000 of the
			// answer (as browsers do) and codes narrowband.
			name: "narrowband opus to pcmu", base: 43900,
			aSDP: xcodeSDP(0, "111", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 useinbandfec=1"),
			keep: []string{"PCMU"},
			bAnswer: func(port uint16) []byte {
				return xcodeSDP(port, "0", "a=rtpmap:0 PCMU/8000", "a=ptime:20")
			},
			wantOfferM: "RTP/AVP 0", wantAnswerM: "RTP/AVP 111",
			wantFmtp: "a=fmtp:111 useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000",
			a:        narrowband(t, newCodecPeer(t, "opus", 111)), b: newCodecPeer(t, "pcmu", 0), minSNR: 25,
		},
		{
			name: "opus to pcma inline", base: 42720, inline: true,
			aSDP: xcodeSDP(0, "111", "a=rtpmap:111 opus/48000/2"),
			keep: []string{"PCMA"},
			bAnswer: func(port uint16) []byte {
				return xcodeSDP(port, "8", "a=rtpmap:8 PCMA/8000", "a=ptime:30")
			},
			wantOfferM: "RTP/AVP 8", wantAnswerM: "RTP/AVP 111",
			wantFmtp: "a=fmtp:111 maxplaybackrate=8000;sprop-maxcapturerate=8000",
			a:        newCodecPeer(t, "opus", 111), b: newCodecPeer(t, "pcma", 8), minSNR: 25,
		},
		{
			name: "g722 to pcma", base: 42440,
			aSDP: xcodeSDP(0, "9", "a=rtpmap:9 G722/8000"),
			keep: []string{"PCMA"},
			bAnswer: func(port uint16) []byte {
				return xcodeSDP(port, "8", "a=rtpmap:8 PCMA/8000")
			},
			wantOfferM: "RTP/AVP 8", wantAnswerM: "RTP/AVP 9",
			a: newCodecPeer(t, "g722", 9), b: newCodecPeer(t, "pcma", 8), minSNR: 30,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, tc.base, netip.Addr{}, func(c *Config) {
				c.Transcode.Workers = 2
				if tc.inline {
					c.Transcode.Workers = WorkersInline
				}
			})
			pa, pb := newPeer(t), newPeer(t)
			ctx := context.Background()
			aSDP := strings.Replace(string(tc.aSDP), "m=audio 0 ", "m=audio "+itoa(int(pa.addr.Port()))+" ", 1)
			offer, err := e.Offer(ctx, OfferRequest{CallID: "x", FromTag: "a", SDP: []byte(aSDP),
				Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: tc.keep}})
			if err != nil {
				t.Fatal(err)
			}
			if m := mLine(offer); !strings.HasSuffix(m, tc.wantOfferM) {
				t.Fatalf("offer to B: %q, want ...%q\n%s", m, tc.wantOfferM, offer)
			}
			answer, err := e.Answer(ctx, AnswerRequest{CallID: "x", FromTag: "a", ToTag: "b", SDP: tc.bAnswer(pb.addr.Port())})
			if err != nil {
				t.Fatal(err)
			}
			if m := mLine(answer); !strings.HasSuffix(m, tc.wantAnswerM) {
				t.Fatalf("answer to A: %q, want ...%q\n%s", m, tc.wantAnswerM, answer)
			}
			if tc.wantFmtp != "" && !strings.Contains(string(answer), tc.wantFmtp+"\r\n") {
				t.Fatalf("answer to A without %q:\n%s", tc.wantFmtp, answer)
			}
			if st := e.TranscodeStats(); st.Sessions != 1 {
				t.Fatalf("sessions %d", st.Sessions)
			}
			sbcA := lo(sdpMediaPorts(t, answer)[0])
			sbcB := lo(sdpMediaPorts(t, offer)[0])

			var wg sync.WaitGroup
			var gotA, gotB []int16
			var ptsA, ptsB map[uint8]int
			wg.Add(4)
			go func() { defer wg.Done(); stream(t, pa, sbcA, tc.a, 1000, 1500*time.Millisecond, tc.aEvPT) }()
			go func() { defer wg.Done(); stream(t, pb, sbcB, tc.b, 600, 1500*time.Millisecond, tc.bEvPT) }()
			go func() { defer wg.Done(); gotB, ptsB = collect(t, pb, tc.b) }()
			go func() { defer wg.Done(); gotA, ptsA = collect(t, pa, tc.a) }()
			wg.Wait()

			for _, x := range []struct {
				who  string
				pcm  []int16
				rate int
				freq float64
			}{{"B hears A", gotB, tc.b.rate, 1000}, {"A hears B", gotA, tc.a.rate, 600}} {
				if len(x.pcm) < x.rate { // 1.5 s sent
					t.Fatalf("%s: only %d samples", x.who, len(x.pcm))
				}
				tone := audiocheck.Analyse(x.pcm[x.rate/5:], x.rate)
				t.Logf("%s: %.2f Hz %+.2f dB SNR %.1f dB over %d ms", x.who, tone.Freq, audiocheck.DB(tone.Amplitude, 10000), tone.SNR, len(x.pcm)*1000/x.rate)
				if math.Abs(tone.Freq-x.freq) > 1 || math.Abs(audiocheck.DB(tone.Amplitude, 10000)) > 1 || tone.SNR < tc.minSNR {
					t.Errorf("%s: %.2f Hz, %+.2f dB, SNR %.1f dB; want %.0f Hz, within 1 dB, SNR >= %.0f",
						x.who, tone.Freq, audiocheck.DB(tone.Amplitude, 10000), tone.SNR, x.freq, tc.minSNR)
				}
			}
			if tc.aEvPT != 0 && (ptsB[tc.bEvPT] != 3 || ptsA[tc.aEvPT] != 3) {
				t.Errorf("events: B got %v, A got %v", ptsB, ptsA)
			}
			st := e.TranscodeStats()
			if st.Dropped != 0 || (st.Queued < 150) != tc.inline {
				t.Errorf("transcode stats %+v", st)
			}
			// Every RTP packet both ways was timed, receive to transcoded send.
			var timed uint64
			for _, n := range st.Latency {
				timed += n
			}
			if timed < 150 || st.MaxLatency <= 0 || st.LatencySum < time.Duration(timed)*time.Microsecond/2 ||
				st.LatencyQuantile(0.5) <= 0 || st.LatencyQuantile(0.5) > st.LatencyQuantile(1) {
				t.Errorf("processing time: %d packets timed, sum %v, max %v, p50 %v", timed, st.LatencySum, st.MaxLatency, st.LatencyQuantile(0.5))
			}
			if _, err := e.Delete("x", ""); err != nil {
				t.Fatal(err)
			}
			if st := e.TranscodeStats(); st.Sessions != 0 {
				t.Errorf("sessions after delete: %d", st.Sessions)
			}
		})
	}
}

// TestTranscodeOnlyWhenNecessary: a shared codec is filtered, not
// transcoded; Disabled keeps the old refusal; MaxSessions caps.
func TestTranscodeOnlyWhenNecessary(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 42480, netip.Addr{}, func(c *Config) { c.Transcode.MaxSessions = 1 })
	offer, err := e.Offer(ctx, OfferRequest{CallID: "s", FromTag: "a",
		SDP:   xcodeSDP(4000, "111 0", "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU", "PCMA"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m := mLine(offer); !strings.HasSuffix(m, "RTP/AVP 0") {
		t.Fatalf("shared codec: %q", m)
	}
	if _, err := e.Answer(ctx, AnswerRequest{CallID: "s", FromTag: "a", ToTag: "b", SDP: xcodeSDP(4002, "0")}); err != nil {
		t.Fatal(err)
	}
	if st := e.TranscodeStats(); st.Sessions != 0 {
		t.Fatalf("transcoding a shared codec: %+v", st)
	}
	checkCodecs(t, e, "s", "PCMU/8000", "PCMU/8000", false)

	opusOnly := xcodeSDP(4010, "111", "a=rtpmap:111 opus/48000/2")
	pcmu := Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}
	if _, err := e.Offer(ctx, OfferRequest{CallID: "t1", FromTag: "a", SDP: opusOnly, Flags: pcmu}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Answer(ctx, AnswerRequest{CallID: "t1", FromTag: "a", ToTag: "b", SDP: xcodeSDP(4012, "0")}); err != nil {
		t.Fatal(err)
	}
	checkCodecs(t, e, "t1", "opus/48000", "PCMU/8000", true)
	if st := e.TranscodeStats(); st.Sessions != 1 || st.Started != 1 {
		t.Fatalf("after one transcoded answer: %+v", st)
	}
	if _, err := e.Offer(ctx, OfferRequest{CallID: "t2", FromTag: "a", SDP: opusOnly, Flags: pcmu}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Answer(ctx, AnswerRequest{CallID: "t2", FromTag: "a", ToTag: "b", SDP: xcodeSDP(4014, "0")}); !errors.Is(err, ErrNoCodec) {
		t.Fatalf("over MaxSessions: %v", err)
	}

	off := newTestEngine(t, 42520, netip.Addr{}, func(c *Config) { c.Transcode.Disabled = true })
	if _, err := off.Offer(ctx, OfferRequest{CallID: "d", FromTag: "a", SDP: opusOnly, Flags: pcmu}); !errors.Is(err, ErrNoCodec) {
		t.Fatalf("disabled: %v", err)
	}
}

// checkCodecs asserts the codecs a call's statistics report per leg
// (tags "a" and "b") and whether it was transcoded.
func checkCodecs(t *testing.T, e *Engine, call, a, b string, transcoded bool) {
	t.Helper()
	st, err := e.Query(call)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range st.Legs {
		if len(l.Streams) != 1 {
			t.Fatalf("%s: leg %s has %d streams", call, l.Tag, len(l.Streams))
		}
		got[l.Tag] = l.Streams[0].Codec
	}
	if got["a"] != a || got["b"] != b || st.Transcoded != transcoded {
		t.Errorf("%s: codecs %v transcoded %v, want a=%s b=%s transcoded %v", call, got, st.Transcoded, a, b, transcoded)
	}
}

// TestTranscodeRTCP: RTCP from a transcoded leg is not relayed; each leg
// gets a sender report for the stream sent to it.
func TestTranscodeRTCP(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 42560, netip.Addr{}, nil)
	pa, pb := newPeer(t), newPeer(t)
	offer, err := e.Offer(ctx, OfferRequest{CallID: "r", FromTag: "a",
		SDP:   xcodeSDP(pa.addr.Port(), "0", "a=rtcp-mux"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMA"}}})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := e.Answer(ctx, AnswerRequest{CallID: "r", FromTag: "a", ToTag: "b", SDP: xcodeSDP(pb.addr.Port(), "8", "a=rtcp-mux")})
	if err != nil {
		t.Fatal(err)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, answer)[0]), lo(sdpMediaPorts(t, offer)[0])
	pa.send(rtcpSR(0x5eed, 1, 2), sbcA)
	c := newCodecPeer(t, "pcmu", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		stream(t, pa, sbcA, c, 1000, 1200*time.Millisecond, 0)
	}()
	t.Cleanup(func() { <-done }) // before the peers close
	var srs int
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && srs == 0 {
		b, _, ok := pb.recv(time.Second)
		if !ok {
			break
		}
		if b[1] == 200 {
			if ssrc := binary.BigEndian.Uint32(b[4:]); ssrc == 0x5eed {
				t.Fatal("A's own sender report was relayed")
			}
			srs++
		}
	}
	if srs == 0 {
		t.Fatal("no sender report generated for B")
	}
	_ = sbcB
}

// TestPlayTranscodedCaller plays ringback to an offerer whose offer has
// no G.711 (G.722 only, then Opus only): the early answer keeps its codec
// and the tone arrives in it, 20 ms packets, 440+480 Hz.
func TestPlayTranscodedCaller(t *testing.T) {
	for i, tc := range []struct {
		name, fmts, rtpmap string
		pt                 uint8
		rate               int
	}{{"g722", "9", "a=rtpmap:9 G722/8000", 9, 16000}, {"opus", "111", "a=rtpmap:111 opus/48000/2", 111, 48000}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, 44600+40*i, netip.Addr{}, nil)
			pa := newPeer(t)
			ctx := context.Background()
			offer := xcodeSDP(pa.addr.Port(), tc.fmts, tc.rtpmap)
			if _, err := e.Offer(ctx, OfferRequest{CallID: "p", FromTag: "A", SDP: offer,
				Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMA"}}}); err != nil {
				t.Fatal(err)
			}
			early, _, err := e.Play(ctx, PlayRequest{CallID: "p", FromTag: "A", SDP: offer, Country: "US", Tone: "ringback"})
			if err != nil {
				t.Fatalf("Play: %v", err)
			}
			if m := mLine(early); !strings.HasSuffix(m, "RTP/AVP "+tc.fmts) {
				t.Errorf("early answer m= %q, want %s", m, tc.fmts)
			}
			var pcm []int16
			buf := make([]int16, 5760)
			gdec := g722.NewDecoder()
			odec, err := opus.NewDecoder(opus.DecoderConfig{})
			if err != nil {
				t.Fatal(err)
			}
			for len(pcm) < tc.rate {
				b, _, ok := pa.recv(time.Second)
				if !ok {
					t.Fatalf("ringback stopped after %d samples", len(pcm))
				}
				if b[1]&0x7f != tc.pt {
					t.Fatalf("packet pt %d, want %d", b[1]&0x7f, tc.pt)
				}
				var n int
				if tc.pt == 9 {
					n, err = gdec.Decode(buf, b[12:])
				} else {
					n, err = odec.Decode(b[12:], buf)
				}
				if err != nil || n != tc.rate/50 {
					t.Fatalf("decode: %d samples, %v", n, err)
				}
				pcm = append(pcm, buf[:n]...)
			}
			// The US ringback is 440+480 Hz: both stand far above the
			// rest of the spectrum (checked on a 5 Hz grid).
			seg := pcm[len(pcm)/4:]
			p440, p480, p1k := tonePower(seg, tc.rate, 440), tonePower(seg, tc.rate, 480), tonePower(seg, tc.rate, 1000)
			if p440 < 100*p1k || p480 < 100*p1k {
				t.Errorf("440 Hz %.3g, 480 Hz %.3g, 1 kHz %.3g", p440, p480, p1k)
			}
		})
	}
}

// tonePower is the Goertzel power of pcm at freq.
func tonePower(pcm []int16, rate int, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range pcm {
		s1, s2 = float64(v)+coeff*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// TestLimitOpus: an Opus format gets maxplaybackrate and
// sprop-maxcapturerate for the other leg's audio rate, replacing values
// it had and keeping its other parameters and other formats' lines;
// other codecs and rate 0 are left alone.
func TestLimitOpus(t *testing.T) {
	f := format{pt: "111", name: "opus", clock: 48000, fmtp: []string{"111 minptime=10;MaxPlaybackRate=48000;useinbandfec=1", "110 0-15"}}
	got := limitOpus(f, audioRate("pcma"))
	want := []string{"111 minptime=10;useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000", "110 0-15"}
	if !slices.Equal(got.fmtp, want) {
		t.Fatalf("fmtp %q, want %q", got.fmtp, want)
	}
	if f.fmtp[0] != "111 minptime=10;MaxPlaybackRate=48000;useinbandfec=1" {
		t.Fatal("the original format changed")
	}
	if got := limitOpus(format{pt: "96", name: "opus"}, audioRate("g722")); !slices.Equal(got.fmtp, []string{"96 maxplaybackrate=16000;sprop-maxcapturerate=16000"}) {
		t.Fatalf("without fmtp: %q", got.fmtp)
	}
	for _, c := range []struct {
		f    format
		rate int
	}{{format{pt: "0", name: "pcmu"}, 8000}, {f, audioRate("opus")}} {
		if got := limitOpus(c.f, c.rate); !slices.Equal(got.fmtp, c.f.fmtp) {
			t.Fatalf("%s at %d: fmtp %q", c.f.name, c.rate, got.fmtp)
		}
	}
}

// TestOfferOpusLimited: offered Opus in place of a G.711 or G.722 caller's
// codec, the other side is told the audio rate the caller's leg carries
// (RFC 7587), so its encoder need not code wider audio.
func TestOfferOpusLimited(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 43860, netip.Addr{}, nil)
	opus := Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"opus"}}
	for _, c := range []struct {
		id, fmt, rtpmap, want string
	}{
		{"pcmu", "0", "a=rtpmap:0 PCMU/8000", "a=fmtp:111 minptime=10;useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"},
		{"g722", "9", "a=rtpmap:9 G722/8000", "a=fmtp:111 minptime=10;useinbandfec=1;maxplaybackrate=16000;sprop-maxcapturerate=16000\r\n"},
	} {
		offer, err := e.Offer(ctx, OfferRequest{CallID: c.id, FromTag: "a", SDP: xcodeSDP(4020, c.fmt, c.rtpmap), Flags: opus})
		if err != nil {
			t.Fatal(err)
		}
		if m := mLine(offer); !strings.HasSuffix(m, "RTP/AVP 111") {
			t.Fatalf("%s caller: offer %q", c.id, m)
		}
		if !strings.Contains(string(offer), c.want) {
			t.Fatalf("%s caller: offer without %q:\n%s", c.id, c.want, offer)
		}
	}
}
