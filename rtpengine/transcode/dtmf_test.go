//go:build cgo

package transcode

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
)

const allKeys = "123A456B789C*0#D"

// digitLog collects what OnDigit reports.
type digitLog struct {
	keys    strings.Builder
	methods map[string]int
}

func (l *digitLog) onDigit(key byte, dur time.Duration, method string) {
	if l.methods == nil {
		l.methods = map[string]int{}
	}
	l.keys.WriteByte(key)
	l.methods[method]++
	if dur < 40*time.Millisecond || dur > 200*time.Millisecond {
		panic(fmt.Sprintf("digit %c lasted %v", key, dur))
	}
}

// sendEvents sends each key as a 100 ms RFC 4733 event (every packet
// twice, three end packets), then 100 ms of the source's tone, as a
// peer that stops its audio during an event does.
func sendEvents(t *testing.T, p *Pipeline, src *source, evPT uint8, keys string) {
	t.Helper()
	step := uint32(src.clock / 50)
	for i := range len(keys) {
		code, _ := rfc4733.Code(keys[i])
		ts := src.ts
		for k := 1; k <= 8; k++ {
			dur := uint32(min(k, 5)) * step
			ev := rfc4733.Event{Code: code, End: k > 5, Volume: 10, Duration: uint16(dur)}
			b := make([]byte, 4)
			_ = ev.Put(b)
			pkt := rtp(evPT, k == 1, src.seq, ts, 0xabcdef, b)
			src.seq++
			for range 2 {
				if err := p.HandleRTP(pkt); err != nil {
					t.Fatal(err)
				}
			}
		}
		src.ts += 5 * step
		src.pos += 5 * src.rate / 50
		for range 5 {
			_ = p.HandleRTP(src.next())
		}
	}
}

// sendTones sends each key as a 100 ms in-band tone and 100 ms pause,
// encoded in the source's codec.
func sendTones(t *testing.T, p *Pipeline, src *source, keys string) {
	t.Helper()
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Rate: src.rate, Level: -7, Twist: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Play(keys); err != nil {
		t.Fatal(err)
	}
	n := src.rate / 50
	for range 10*len(keys) + 10 {
		pcm := make([]int16, n)
		g.Read(pcm)
		_ = p.HandleRTP(src.encode(pcm))
	}
}

// heard runs the detector over what a sink decoded.
func heard(t *testing.T, s *sink) string {
	t.Helper()
	d, err := dtmf.NewDetector(s.rate, dtmf.DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	evs := d.Process(nil, s.pcm)
	evs = d.Flush(evs)
	for _, e := range evs {
		if e.Kind == dtmf.End {
			out.WriteByte(e.Key)
		}
	}
	return out.String()
}

// events decodes the telephone-events a sink received, once per digit.
func events(t *testing.T, s *sink, pt uint8) string {
	t.Helper()
	if pt == 0 {
		return ""
	}
	rx, err := rfc4733.NewReceiver(rfc4733.ReceiverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	now := time.Now()
	for _, h := range s.pkts {
		if h.pt != pt {
			continue
		}
		ds, err := rx.Push(nil, now, h.ts, h.marker, h.seq, h.payload)
		if err != nil {
			t.Errorf("bad event packet: %v", err)
		}
		for _, d := range ds {
			k, _ := rfc4733.Key(d.Code)
			out.WriteByte(k)
		}
	}
	for _, d := range rx.Flush(nil) {
		k, _ := rfc4733.Key(d.Code)
		out.WriteByte(k)
	}
	return out.String()
}

// TestDTMFInterworking runs every key through transcoded pipelines in
// each interworking mode: the far side must get each digit exactly once
// in its own mode, and OnDigit must report each once with the method it
// arrived by.
func TestDTMFInterworking(t *testing.T) {
	tests := []struct {
		name      string
		in, out   string
		inEv      uint8 // the sender's telephone-event PT (events in)
		outEv     uint8
		detect    bool
		mode      DTMFOut
		method    string
		wantTones bool // far side hears tones (else gets events, or nothing)
		wantNone  bool
	}{
		{"opus events to pcmu tones", Opus, PCMU, 110, 0, false, DTMFTones, MethodRFC4733, true, false},
		{"g722 events to pcma tones", G722, PCMA, 101, 0, false, DTMFEvents, MethodRFC4733, true, false},
		{"opus events to pcmu events", Opus, PCMU, 110, 101, false, DTMFEvents, MethodRFC4733, false, false},
		{"opus events to info", Opus, PCMA, 110, 0, false, DTMFDrop, MethodRFC4733, false, true},
		{"pcmu tones to opus events", PCMU, Opus, 0, 101, true, DTMFEvents, MethodInband, false, false},
		{"g722 tones to pcmu events", G722, PCMU, 0, 101, true, DTMFEvents, MethodInband, false, false},
		{"opus tones to pcma events", Opus, PCMA, 0, 101, true, DTMFEvents, MethodInband, false, false},
		{"pcmu tones to g722 tones", PCMU, G722, 0, 0, true, DTMFTones, MethodInband, true, false},
		{"opus tones to info", Opus, PCMU, 0, 0, true, DTMFDrop, MethodInband, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, tc.in, ptOf[tc.in], 400, 3000)
			dst := newSink(t, tc.out)
			var log digitLog
			p, err := New(Config{In: Codec{Name: tc.in, PT: ptOf[tc.in]}, Out: Codec{Name: tc.out, PT: ptOf[tc.out]},
				InEventPT: tc.inEv, OutEventPT: tc.outEv, Output: dst.output,
				DTMF: &DTMF{Detect: tc.detect, Out: tc.mode, OnDigit: log.onDigit}})
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				_ = p.HandleRTP(src.next())
			}
			if tc.inEv != 0 {
				sendEvents(t, p, src, tc.inEv, allKeys)
			} else {
				sendTones(t, p, src, allKeys)
			}
			for range 10 {
				_ = p.HandleRTP(src.next())
			}
			if got := log.keys.String(); got != allKeys || log.methods[tc.method] != len(allKeys) {
				t.Errorf("reported %q %v, want %q by %s", got, log.methods, allKeys, tc.method)
			}
			if st := p.Stats(); st.Digits != uint64(len(allKeys)) {
				t.Errorf("stats: %d digits", st.Digits)
			}
			tones, evs := "", events(t, dst, tc.outEv)
			if tc.out != Opus {
				tones = heard(t, dst)
			}
			switch {
			case tc.wantTones:
				if tones != allKeys || evs != "" {
					t.Errorf("far side heard %q and got events %q, want tones %q", tones, evs, allKeys)
				}
			case tc.wantNone:
				if tones != "" || evs != "" {
					t.Errorf("far side heard %q and got events %q, want neither", tones, evs)
				}
			case tc.outEv != 0:
				if evs != allKeys {
					t.Errorf("far side got events %q, want %q", evs, allKeys)
				}
			}
			if tc.detect && tc.mode == DTMFEvents && tones != "" {
				// The detector's 40 ms latency leaves the start of each
				// tone in the audio; never a whole digit.
				t.Errorf("far side also heard %q in the audio", tones)
			}
		})
	}
}

// TestDTMFTimeline: converting events to tones keeps the outgoing
// timestamps one frame apart (the event's time replaces the audio's).
func TestDTMFTimeline(t *testing.T) {
	src := newSource(t, Opus, 111, 400, 3000)
	dst := newSink(t, PCMU)
	p, err := New(Config{In: Codec{Name: Opus, PT: 111}, Out: Codec{Name: PCMU}, InEventPT: 110,
		Output: dst.output, DTMF: &DTMF{Out: DTMFTones}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = p.HandleRTP(src.next())
	}
	sendEvents(t, p, src, 110, "5")
	for range 5 {
		_ = p.HandleRTP(src.next())
	}
	checkHeaders(t, dst.pkts, 160)
	if n := len(dst.pkts); n < 19 || n > 21 {
		for _, h := range dst.pkts {
			t.Logf("seq %d ts %d len %d", h.seq, h.ts, len(h.payload))
		}
		t.Errorf("%d packets for 400 ms (%+v)", n, p.Stats())
	}
}

// TestPlayDigit: digits queued with PlayDigit leave as events or tones
// over the outgoing audio, each once.
func TestPlayDigit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		out   string
		outEv uint8
	}{{"events", Opus, PCMU, 101}, {"tones", Opus, G722, 0}, {"tones pcma", G722, PCMA, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, tc.in, ptOf[tc.in], 400, 300)
			dst := newSink(t, tc.out)
			p, err := New(Config{In: Codec{Name: tc.in, PT: ptOf[tc.in]}, Out: Codec{Name: tc.out, PT: ptOf[tc.out]},
				OutEventPT: tc.outEv, Output: dst.output, DTMF: &DTMF{}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(allKeys) {
				if err := p.PlayDigit(allKeys[i], 80*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				for range 10 {
					_ = p.HandleRTP(src.next())
				}
			}
			if tc.outEv != 0 {
				if got := events(t, dst, tc.outEv); got != allKeys {
					t.Errorf("events %q, want %q", got, allKeys)
				}
			} else if got := heard(t, dst); got != allKeys {
				t.Errorf("heard %q, want %q", got, allKeys)
			}
		})
	}
	p, err := New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8}, Output: func([]byte) {}, DTMF: &DTMF{Out: DTMFDrop}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PlayDigit('1', 0); err == nil {
		t.Error("PlayDigit towards a drop pipeline succeeded")
	}
	p, _ = New(Config{In: Codec{Name: PCMU}, Out: Codec{Name: PCMA, PT: 8}, Output: func([]byte) {}, DTMF: &DTMF{}})
	if err := p.PlayDigit('x', 0); err == nil {
		t.Error("PlayDigit('x') succeeded")
	}
	for range injectQueue {
		_ = p.PlayDigit('1', 0)
	}
	if err := p.PlayDigit('1', 0); err == nil {
		t.Error("a full digit queue accepted another")
	}
}
