package conference

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

// A talker at -10 dBm0 has this amplitude; a leak of the listener's own
// voice must stay 30 dB below it.
var (
	ampTalk  = 32767 * math.Pow(10, (-10-3.17)/20)
	ampQuiet = 32767 * math.Pow(10, (-30-3.17)/20)
)

type member struct {
	codec string
	pt    uint8
	hz    float64
}

// runMix has each member talk its tone for ticks steps and returns what
// each heard.
func runMix(t *testing.T, c Config, ms []member, amp float64, ticks int) ([]*listener, [][]int16) {
	t.Helper()
	r, cfg := testRoom(t, c)
	mixes := make([][]int16, len(ms))
	talkers := make([]*talker, len(ms))
	ls := make([]*listener, len(ms))
	for i, m := range ms {
		talkers[i] = newTalker(t, m.codec, m.pt, m.hz, amp)
		ls[i] = newListener(t, m.codec)
		r.add(t, cfg, ParticipantConfig{ID: fmt.Sprint("p", i), Codec: m.codec, PT: m.pt, Output: ls[i].output})
	}
	for range ticks {
		for i, p := range r.parts {
			p.Push(talkers[i].packet())
		}
		r.tick()
		for i, p := range r.parts {
			mixes[i] = append(mixes[i], p.mix[:]...)
		}
	}
	return ls, mixes
}

// checkHears asserts that listener i hears every other member's tone and
// not its own.
func checkHears(t *testing.T, ms []member, ls []*listener, mixes [][]int16, amp float64) {
	t.Helper()
	for i, mix := range mixes {
		mix = mix[len(mix)-Rate/2:]
		for j, m := range ms {
			a := amplitude(mix, m.hz, Rate)
			switch {
			case i == j && a > amp*0.02:
				t.Errorf("mix for %d (%s) holds its own %v Hz at %.1f (talk %.0f): want below -34 dB (the codecs' noise)", i, ms[i].codec, m.hz, a, amp)
			case i != j && (a < amp*0.8 || a > amp*1.2):
				t.Errorf("mix for %d holds %s %v Hz at %.0f, want %.0f ±20%%", i, m.codec, m.hz, a, amp)
			}
		}
	}
	for i, l := range ls {
		for j, m := range ms {
			a := l.level(m.hz, 500*time.Millisecond)
			switch {
			case i == j && a > amp*0.03:
				t.Errorf("%s listener %d hears its own %v Hz at %.0f (talk %.0f): want below -30 dB", ms[i].codec, i, m.hz, a, amp)
			case i != j && (a < amp*0.7 || a > amp*1.3):
				t.Errorf("%s listener %d hears %s %v Hz at %.0f, want %.0f ±30%%", ms[i].codec, i, m.codec, m.hz, a, amp)
			}
		}
	}
}

func TestMixNMinusOneCodecs(t *testing.T) {
	ms := []member{{PCMU, 0, 400}, {PCMA, 8, 700}, {G722, 9, 1100}, {Opus, 111, 1700}}
	ls, mixes := runMix(t, Config{}, ms, ampTalk, 60)
	checkHears(t, ms, ls, mixes, ampTalk)
}

func TestMixTwentyParticipants(t *testing.T) {
	codecs := []string{PCMU, PCMA, G722, Opus}
	pts := map[string]uint8{PCMU: 0, PCMA: 8, G722: 9, Opus: 111}
	var ms []member
	for i := range 20 {
		c := codecs[i%len(codecs)]
		ms = append(ms, member{c, pts[c], 350 + float64(i)*150})
	}
	// Nineteen tones at once are a dense signal for Opus: at its default
	// 24 kbit/s its coding noise alone reaches -25 dB in any bin, so the
	// decoded check runs at 64 kbit/s (the mix itself is checked exactly).
	ls, mixes := runMix(t, Config{OpusBitrate: 64000}, ms, ampQuiet, 60)
	checkHears(t, ms, ls, mixes, ampQuiet)
}

func TestMixRTPHeaders(t *testing.T) {
	for _, tc := range []struct {
		codec         string
		ptime         time.Duration
		perTick, step int
	}{
		{PCMU, 20 * time.Millisecond, 1, 160},
		{PCMA, 10 * time.Millisecond, 2, 80},
		{PCMU, 30 * time.Millisecond, 0, 240}, // 2 packets per 3 ticks
		{G722, 40 * time.Millisecond, 0, 320},
		{Opus, 20 * time.Millisecond, 1, 960},
		{Opus, 60 * time.Millisecond, 0, 2880},
	} {
		t.Run(fmt.Sprint(tc.codec, tc.ptime), func(t *testing.T) {
			r, cfg := testRoom(t, Config{})
			l := newListener(t, tc.codec)
			r.add(t, cfg, ParticipantConfig{ID: "a", Codec: tc.codec, PT: 96, Ptime: tc.ptime, Output: l.output})
			ticks := 12
			for range ticks {
				r.tick()
			}
			want := int(time.Duration(ticks) * FrameTime / tc.ptime)
			if len(l.pkts) != want {
				t.Fatalf("%d packets in %d ticks, want %d", len(l.pkts), ticks, want)
			}
			for i, h := range l.pkts {
				if h.pt != 96 || h.marker != (i == 0) || h.ssrc != l.pkts[0].ssrc {
					t.Errorf("packet %d: pt %d marker %v ssrc %x", i, h.pt, h.marker, h.ssrc)
				}
				if i > 0 && (h.seq != l.pkts[i-1].seq+1 || h.ts-l.pkts[i-1].ts != uint32(tc.step)) {
					t.Errorf("packet %d: seq %d ts %d after seq %d ts %d (step %d)", i, h.seq, h.ts, l.pkts[i-1].seq, l.pkts[i-1].ts, tc.step)
				}
			}
			if tc.codec != Opus {
				wantBytes := tc.step
				if tc.codec == G722 {
					wantBytes = tc.step // one byte per 8 kHz tick: 2 samples at 16 kHz
				}
				if l.pkts[0].n != wantBytes {
					t.Errorf("payload %d bytes, want %d", l.pkts[0].n, wantBytes)
				}
			}
		})
	}
}

func TestMixClipsRatherThanWraps(t *testing.T) {
	r, cfg := testRoom(t, Config{})
	// Three full-scale talkers in phase: the third hears two of them,
	// 2×32000, which must saturate at +32767 rather than wrap negative.
	var ks []*talker
	for i := range 3 {
		ks = append(ks, newTalker(t, G722, 9, 500, 32000))
		r.add(t, cfg, ParticipantConfig{ID: fmt.Sprint(i), Codec: G722, PT: 9, Output: func([]byte) {}})
	}
	for range 10 {
		for i, p := range r.parts {
			p.Push(ks[i].packet())
		}
		r.tick()
		p := r.parts[2]
		for i, v := range p.mix {
			own := int32(p.in[i]) // equal to the others' (same tone, same codec)
			if want := sat16(2 * own); p.active && v != want {
				t.Fatalf("mix[%d] = %d, want %d (own %d)", i, v, want, own)
			}
		}
	}
	if !r.parts[2].active {
		t.Fatal("participant never active")
	}
}

func TestMuteSilencesTalker(t *testing.T) {
	r, cfg := testRoom(t, Config{})
	a, b := newTalker(t, PCMU, 0, 500, ampTalk), newTalker(t, PCMU, 0, 900, ampTalk)
	la, lb := newListener(t, PCMU), newListener(t, PCMU)
	pa := r.add(t, cfg, ParticipantConfig{ID: "a", Codec: PCMU, Output: la.output})
	pb := r.add(t, cfg, ParticipantConfig{ID: "b", Codec: PCMU, Output: lb.output})
	step := func(n int) {
		for range n {
			pa.Push(a.packet())
			pb.Push(b.packet())
			r.tick()
		}
	}
	step(30)
	if got := lb.level(500, 300*time.Millisecond); got < ampTalk*0.7 {
		t.Fatalf("b hears a at %.0f before mute", got)
	}
	pa.SetMuted(true)
	step(30)
	if got := lb.level(500, 300*time.Millisecond); got > ampTalk*0.01 {
		t.Errorf("b hears muted a at %.0f", got)
	}
	if got := la.level(900, 300*time.Millisecond); got < ampTalk*0.7 {
		t.Errorf("muted a no longer hears b (%.0f)", got)
	}
	if got := la.level(400, 100*time.Millisecond); got > 100 {
		t.Errorf("mute tone still playing after 600 ms: %.0f", got)
	}
	pa.SetMuted(false)
	step(30)
	if got := lb.level(500, 300*time.Millisecond); got < ampTalk*0.7 {
		t.Errorf("b hears unmuted a at %.0f", got)
	}
}

// event builds an RFC 4733 packet.
func event(pt uint8, seq uint16, ts uint32, code uint8, end bool, dur uint16, marker bool) []byte {
	b := make([]byte, 16)
	b[0], b[1] = 0x80, pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], 0x1234)
	b[12] = code
	b[13] = 10
	if end {
		b[13] |= 0x80
	}
	binary.BigEndian.PutUint16(b[14:], dur)
	return b
}

func TestDTMFMuteCode(t *testing.T) {
	r, cfg := testRoom(t, Config{MuteDigits: "*6"})
	l := newListener(t, PCMU)
	p := r.add(t, cfg, ParticipantConfig{ID: "a", Codec: PCMU, EventPT: 101, Output: l.output})
	seq, ts := uint16(1), uint32(1000)
	press := func(code uint8) {
		for i := range 4 {
			p.Push(event(101, seq, ts, code, false, uint16(160*(i+1)), i == 0))
			seq++
		}
		for range 3 { // end packets, repeated as RFC 4733 asks
			p.Push(event(101, seq, ts, code, true, 800, false))
			seq++
		}
		ts += 2000
	}
	press(10) // '*'
	press(6)
	if !p.Muted() {
		t.Fatal("*6 did not mute")
	}
	press(10)
	press(5) // *5 is not the code
	if !p.Muted() {
		t.Fatal("*5 unmuted")
	}
	press(10)
	press(6)
	if p.Muted() {
		t.Fatal("second *6 did not unmute")
	}
	if got := p.Stats().Digits; got != 6 {
		t.Errorf("%d digits counted, want 6 (end packets repeated must count once)", got)
	}
	// The participant hears the unmute tone (800 Hz) on the next ticks.
	for range 10 {
		r.tick()
	}
	if a := l.level(800, 200*time.Millisecond); a < 500 {
		t.Errorf("unmute tone at %.0f", a)
	}
}

func TestJoinAndLeaveTones(t *testing.T) {
	b, err := NewBridge(quiet(Config{JoinTone: true, LeaveTone: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	la := newListener(t, G722)
	pa, err := b.Join("r", ParticipantConfig{ID: "a", Codec: G722, PT: 9, Output: la.output})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if a := la.level(600, 400*time.Millisecond); a < 300 {
		t.Errorf("join tone 600 Hz at %.0f", a)
	}
	pb, err := b.Join("r", ParticipantConfig{ID: "b", Codec: PCMU, Output: func([]byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	b.Leave(pb)
	time.Sleep(400 * time.Millisecond)
	if a := la.level(900, 400*time.Millisecond); a < 300 {
		t.Errorf("leave tone 900 Hz at %.0f", a)
	}
	b.Leave(pa)
}

func TestBridgeRoomsAndLimits(t *testing.T) {
	b, err := NewBridge(quiet(Config{MaxParticipants: 3, MaxRooms: 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	nop := func([]byte) {}
	var ps []*Participant
	for i := range 3 {
		p, err := b.Join("one", ParticipantConfig{ID: fmt.Sprint(i), Codec: PCMU, Output: nop})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if _, err := b.Join("one", ParticipantConfig{ID: "x", Codec: PCMU, Output: nop}); !errors.Is(err, ErrFull) {
		t.Fatalf("4th join: %v, want ErrFull", err)
	}
	if _, err := b.Join("two", ParticipantConfig{ID: "0", Codec: PCMA, PT: 8, Output: nop}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join("three", ParticipantConfig{ID: "y", Codec: PCMU, Output: nop}); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("third room: %v, want ErrTooManyRooms", err)
	}
	if _, err := b.Join("two", ParticipantConfig{ID: "0", Codec: PCMU, Output: nop}); !errors.Is(err, ErrConfig) {
		t.Fatalf("duplicate ID: %v, want ErrConfig", err)
	}
	if _, err := b.Join("two", ParticipantConfig{ID: "z", Codec: "gsm", Output: nop}); !errors.Is(err, ErrCodec) {
		t.Fatalf("gsm: %v, want ErrCodec", err)
	}
	if _, err := b.Join("two", ParticipantConfig{ID: "z", Codec: Opus, Ptime: 30 * time.Millisecond, Output: nop}); !errors.Is(err, ErrConfig) {
		t.Fatalf("opus 30 ms: %v, want ErrConfig", err)
	}
	if rooms, parts := b.Counts(); rooms != 2 || parts != 4 {
		t.Fatalf("counts %d rooms %d participants", rooms, parts)
	}
	if err := b.SetMuted("one", "1", true); err != nil || !ps[1].Muted() {
		t.Fatalf("SetMuted: %v", err)
	}
	if err := b.SetMuted("one", "nobody", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetMuted unknown: %v", err)
	}
	ri, err := b.Room("one")
	if err != nil || len(ri.Participants) != 3 || !ri.Participants[1].Muted {
		t.Fatalf("Room: %+v %v", ri, err)
	}
	for _, p := range ps {
		b.Leave(p)
		b.Leave(p) // idempotent
	}
	if rooms, parts := b.Counts(); rooms != 1 || parts != 1 {
		t.Fatalf("after leaving: %d rooms %d participants", rooms, parts)
	}
	if _, err := b.Room("one"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty room still there: %v", err)
	}
	// The room can be opened again.
	if _, err := b.Join("three", ParticipantConfig{ID: "y", Codec: PCMU, Output: nop}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := b.Join("four", ParticipantConfig{ID: "y", Codec: PCMU, Output: nop}); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]Config{
		"one participant": {MaxParticipants: 1},
		"negative rooms":  {MaxRooms: -1},
		"depth":           {Depth: 9},
		"mute digits":     {MuteDigits: "*"},
		"mute key":        {MuteDigits: "*x"},
		"opus bitrate":    {OpusBitrate: 100},
	} {
		if _, err := NewBridge(quiet(c)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// Rooms running at once on their own clocks keep their audio apart.
func TestRoomsRunConcurrently(t *testing.T) {
	b, err := NewBridge(quiet(Config{}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const rooms, per = 5, 3
	type party struct {
		p *Participant
		k *talker
		l *listener
	}
	var all [][]party
	for r := range rooms {
		var ps []party
		for i := range per {
			hz := 300 + float64(r*per+i)*200
			k := newTalker(t, PCMU, 0, hz, ampTalk)
			l := newListener(t, PCMU)
			p, err := b.Join(fmt.Sprint("room", r), ParticipantConfig{ID: fmt.Sprint(i), Codec: PCMU, Output: l.output})
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, party{p, k, l})
		}
		all = append(all, ps)
	}
	tk := time.NewTicker(FrameTime)
	defer tk.Stop()
	for range 60 {
		<-tk.C
		for _, ps := range all {
			for _, x := range ps {
				x.p.Push(x.k.packet())
			}
		}
	}
	for r, ps := range all {
		for i, x := range ps {
			for r2, ps2 := range all {
				for j, y := range ps2 {
					a := x.l.level(y.k.hz, 600*time.Millisecond)
					other := r2 == r && i != j
					if other && a < ampTalk*0.5 {
						t.Errorf("room %d #%d hears #%d at %.0f", r, i, j, a)
					}
					if !other && a > ampTalk*0.05 {
						t.Errorf("room %d #%d hears room %d #%d at %.0f", r, i, r2, j, a)
					}
				}
			}
		}
	}
}

func TestTickDoesNotAllocate(t *testing.T) {
	r, cfg := testRoom(t, Config{})
	var ks []*talker
	for i, c := range []string{PCMU, PCMA, G722, Opus} {
		ks = append(ks, newTalker(t, c, uint8(96+i), 500+float64(i)*300, ampTalk))
		r.add(t, cfg, ParticipantConfig{ID: fmt.Sprint(i), Codec: c, PT: uint8(96 + i), Output: func([]byte) {}})
	}
	if n := testing.AllocsPerRun(100, func() {
		for i, p := range r.parts {
			p.Push(ks[i].packet())
		}
		r.tick()
	}); n != 0 {
		t.Errorf("%.1f allocations per tick", n)
	}
}
