package rtpengine

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
)

const dtmfKeys = "1234567890*#ABCD"

// dtmfSender is a test peer's RTP stream: PCMU audio, in-band digits or
// telephone-events (each event packet sent twice, markers dropped on
// every other digit, three end packets).
type dtmfSender struct {
	p         *peer
	to        netip.AddrPort
	seq       uint16
	ts        uint32
	ssrc      uint32
	evPT      uint8
	pcm       [160]int16
	pkt       [12 + 160]byte
	sentAudio int
}

func (s *dtmfSender) header(pt uint8, marker bool, ts uint32, n int) []byte {
	b := s.pkt[:12+n]
	b[0], b[1] = 0x80, pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], s.seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], s.ssrc)
	s.seq++
	return b
}

// audio sends n 20 ms PCMU packets read from gen (nil: silence).
func (s *dtmfSender) audio(n int, gen *dtmf.Generator) {
	for range n {
		if gen != nil {
			gen.Read(s.pcm[:])
		} else {
			clear(s.pcm[:])
		}
		b := s.header(0, false, s.ts, 160)
		codecs.UlawEncodeFrame(b[12:], s.pcm[:])
		s.p.send(b, s.to)
		s.ts += 160
		s.sentAudio++
		time.Sleep(time.Millisecond)
	}
}

// events sends keys as 100 ms telephone-events with 100 ms pauses.
func (s *dtmfSender) events(t *testing.T, keys string) {
	snd, err := rfc4733.NewSender(rfc4733.SenderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(keys) {
		code, _ := rfc4733.Code(keys[i])
		pkts, err := snd.Digit(nil, code, s.ts, 800)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			marker := p.Marker && i%2 == 0 // every other digit loses its marker
			var pl [4]byte
			_ = p.Event.Put(pl[:])
			for range 2 { // every packet twice (redundancy)
				b := s.header(s.evPT, marker, p.Timestamp, 4)
				copy(b[12:], pl[:])
				s.p.send(b, s.to)
				s.seq-- // the duplicate has the same sequence number
			}
			s.seq++
			time.Sleep(time.Millisecond)
		}
		s.ts += 800 + 160
		s.audio(5, nil)
	}
}

// dtmfReceiver collects what a test peer receives: decoded PCMU audio and
// the digits of telephone-events with the given payload type.
type dtmfReceiver struct {
	mu     sync.Mutex
	pcm    []int16
	events []byte
	pts    map[uint8]int
	done   chan struct{}
}

func receive(p *peer, evPT uint8) *dtmfReceiver {
	r := &dtmfReceiver{pts: map[uint8]int{}, done: make(chan struct{})}
	rx, _ := rfc4733.NewReceiver(rfc4733.ReceiverConfig{})
	go func() {
		defer close(r.done)
		var digits []rfc4733.Digit
		for {
			b, _, ok := p.recv(700 * time.Millisecond)
			if !ok {
				return
			}
			if len(b) < 12 {
				continue
			}
			pt := b[1] & 0x7f
			r.mu.Lock()
			r.pts[pt]++
			switch pt {
			case evPT:
				digits, _ = rx.Push(digits[:0], time.Now(), binary.BigEndian.Uint32(b[4:]), b[1]&0x80 != 0,
					binary.BigEndian.Uint16(b[2:]), b[12:])
				for _, d := range digits {
					k, _ := rfc4733.Key(d.Code)
					r.events = append(r.events, k)
				}
			case 0:
				pcm := make([]int16, len(b)-12)
				codecs.UlawDecodeFrame(pcm, b[12:])
				r.pcm = append(r.pcm, pcm...)
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// inband returns the digits detected in the received audio.
func (r *dtmfReceiver) inband(t *testing.T) string {
	<-r.done
	det, err := dtmf.NewDetector(8000, dtmf.DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	evs := det.Process(nil, r.pcm)
	evs = det.Flush(evs)
	var out []byte
	for _, ev := range evs {
		if ev.Kind == dtmf.End {
			out = append(out, ev.Key)
		}
	}
	return string(out)
}

// dtmfCall sets up a call from tag a (SDP formats aFmt) to b (bFmt) with
// the given modes and returns the engine, both peers, where each peer
// sends (the engine's ports in the answer to A and the offer to B), and
// the digits the engine reports.
func dtmfCall(t *testing.T, base int, from, to, aFmt, bFmt string, suppress bool) (e *Engine, pa, pb *peer, aSends, bSends netip.AddrPort, got func() []Digit) {
	var mu sync.Mutex
	var digits []Digit
	e = newTestEngine(t, base, netip.Addr{}, func(c *Config) {
		c.OnDigit = func(d Digit) {
			mu.Lock()
			digits = append(digits, d)
			mu.Unlock()
		}
	})
	pa, pb = newPeer(t), newPeer(t)
	attrs := func(f string) []string {
		a := []string{"a=rtpmap:0 PCMU/8000"}
		if strings.Contains(f, "101") {
			a = append(a, "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16")
		}
		return a
	}
	fl := &DTMFFlags{From: from, To: to, Suppress: suppress}
	offer, err := e.Offer(context.Background(), OfferRequest{CallID: "d", FromTag: "a",
		SDP:   xcodeSDP(pa.addr.Port(), aFmt, attrs(aFmt)...),
		Flags: Flags{FromInterface: "access", ToInterface: "core", DTMF: fl}})
	if err != nil {
		t.Fatal(err)
	}
	bOffered := strings.Contains(mLine(offer), " 101")
	if want := to == DTMFRFC4733; bOffered != want {
		t.Fatalf("offer to B %q: telephone-event offered %v, want %v", mLine(offer), bOffered, want)
	}
	answer, err := e.Answer(context.Background(), AnswerRequest{CallID: "d", FromTag: "a", ToTag: "b",
		SDP:   xcodeSDP(pb.addr.Port(), bFmt, attrs(bFmt)...),
		Flags: Flags{FromInterface: "access", ToInterface: "core", DTMF: fl}})
	if err != nil {
		t.Fatal(err)
	}
	aGot := strings.Contains(mLine(answer), " 101")
	if want := from == DTMFRFC4733 && strings.Contains(aFmt, "101"); aGot != want {
		t.Fatalf("answer to A %q: telephone-event %v, want %v", mLine(answer), aGot, want)
	}
	aSends = netip.AddrPortFrom(loopback, uint16(portOf(t, answer)))
	bSends = netip.AddrPortFrom(loopback, uint16(portOf(t, offer)))
	return e, pa, pb, aSends, bSends, func() []Digit {
		mu.Lock()
		defer mu.Unlock()
		return append([]Digit(nil), digits...)
	}
}

func portOf(t *testing.T, sdp []byte) int {
	f := strings.Fields(mLine(sdp))
	if len(f) < 2 {
		t.Fatalf("no m= line in %s", sdp)
	}
	n := 0
	for _, c := range f[1] {
		n = n*10 + int(c-'0')
	}
	return n
}

func keysOf(ds []Digit, method string) string {
	var b []byte
	for _, d := range ds {
		if d.Method == method {
			b = append(b, d.Key)
		}
	}
	return string(b)
}

func newKeyGen(t *testing.T) *dtmf.Generator {
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Play(dtmfKeys); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestDTMFInterworking sends every key through the engine in each mode
// pair and checks the far side gets each digit exactly once, in order, in
// its own mode, and that the engine reports each digit once.
func TestDTMFInterworking(t *testing.T) {
	tests := []struct {
		name, from, to string
		base           int
		aFmt, bFmt     string
		suppress       bool
	}{
		{"rfc4733 to rfc4733", DTMFRFC4733, DTMFRFC4733, 42840, "0 101", "0 101", false},
		{"rfc4733 to inband", DTMFRFC4733, DTMFInband, 42880, "0 101", "0", false},
		{"inband to rfc4733", DTMFInband, DTMFRFC4733, 42920, "0", "0 101", true},
		{"inband to info", DTMFInband, DTMFInfo, 42960, "0", "0", true},
		{"inband to info, not suppressed", DTMFInband, DTMFInfo, 42840, "0", "0", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, pa, pb, aSends, _, got := dtmfCall(t, tc.base, tc.from, tc.to, tc.aFmt, tc.bFmt, tc.suppress)
			rb := receive(pb, 101)
			s := &dtmfSender{p: pa, to: aSends, ssrc: 0x1234, evPT: 101, ts: 1000}
			if tc.from == DTMFRFC4733 {
				s.audio(3, nil)
				s.events(t, dtmfKeys)
				s.audio(15, nil)
			} else {
				s.audio(10+len(dtmfKeys)*10, newKeyGen(t))
			}
			<-rb.done
			method := MethodInband
			if tc.from == DTMFRFC4733 {
				method = MethodRFC4733
			}
			waitFor(t, time.Second, "digits reported", func() bool { return len(got()) >= len(dtmfKeys) })
			if r := keysOf(got(), method); r != dtmfKeys || len(got()) != len(dtmfKeys) {
				t.Errorf("reported %q (%d digits), want %q once each by %s", r, len(got()), dtmfKeys, method)
			}
			for _, d := range got() {
				if d.CallID != "d" || d.Tag != "a" || d.Duration < 60*time.Millisecond || d.Duration > 140*time.Millisecond {
					t.Errorf("digit %+v: want call d, tag a, about 100 ms", d)
					break
				}
			}
			switch tc.to {
			case DTMFRFC4733:
				if string(rb.events) != dtmfKeys {
					t.Errorf("B received events %q, want %q", rb.events, dtmfKeys)
				}
				if tc.from == DTMFInband {
					if in := rb.inband(t); in != "" {
						t.Errorf("B heard in-band digits %q under the events (suppression)", in)
					}
				}
			case DTMFInband:
				if in := rb.inband(t); in != dtmfKeys {
					t.Errorf("B heard %q, want %q", in, dtmfKeys)
				}
				if rb.pts[101] != 0 {
					t.Errorf("B received %d telephone-event packets, negotiated none", rb.pts[101])
				}
			case DTMFInfo:
				want := "" // suppressed: the digits go by INFO only
				if !tc.suppress {
					want = dtmfKeys
				}
				if in := rb.inband(t); in != want || rb.pts[101] != 0 {
					t.Errorf("B heard %q and %d events; want %q and none", in, rb.pts[101], want)
				}
			}
		})
	}
}

// TestPlayDigit plays digits into a leg (the INFO -> media direction):
// as telephone-events on an rfc4733 leg, as tones on an inband leg.
func TestPlayDigit(t *testing.T) {
	for _, tc := range []struct {
		name, to string
		base     int
		bFmt     string
	}{
		{"to rfc4733", DTMFRFC4733, 42860, "0 101"},
		{"to inband", DTMFInband, 42900, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, pa, pb, aSends, _, got := dtmfCall(t, tc.base, DTMFInfo, tc.to, "0", tc.bFmt, false)
			rb := receive(pb, 101)
			s := &dtmfSender{p: pa, to: aSends, ssrc: 0x99, ts: 5}
			s.audio(5, nil)
			for i := range len(dtmfKeys) {
				if err := e.PlayDigit("d", "b", dtmfKeys[i], 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				s.audio(12, nil) // 100 ms of digit, end packets, 100+ ms pause
			}
			s.audio(10, nil)
			<-rb.done
			if tc.to == DTMFRFC4733 {
				if string(rb.events) != dtmfKeys {
					t.Errorf("B received events %q, want %q", rb.events, dtmfKeys)
				}
			} else if in := rb.inband(t); in != dtmfKeys {
				t.Errorf("B heard %q, want %q", in, dtmfKeys)
			}
			if len(got()) != 0 {
				t.Errorf("played digits reported as detected: %+v", got())
			}
			if err := e.PlayDigit("d", "b", 'x', 0); err == nil {
				t.Error("PlayDigit accepted 'x'")
			}
			if err := e.PlayDigit("d", "a", '1', 0); err == nil {
				t.Error("PlayDigit towards an info leg accepted")
			}
			if err := e.PlayDigit("nope", "b", '1', 0); err == nil {
				t.Error("PlayDigit on an unknown call accepted")
			}
		})
	}
}

func TestDTMFFlagsValidate(t *testing.T) {
	e := newTestEngine(t, 42940, netip.Addr{}, nil)
	_, err := e.Offer(context.Background(), OfferRequest{CallID: "v", FromTag: "a",
		SDP: xcodeSDP(4000, "0", "a=rtpmap:0 PCMU/8000"), Flags: Flags{DTMF: &DTMFFlags{From: "sms"}}})
	if err == nil || !strings.Contains(err.Error(), "sms") {
		t.Fatalf("bad mode: %v", err)
	}
}
