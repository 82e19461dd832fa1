package rfc4733

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// wirePacket is a telephone-event packet as the receiver sees it.
type wirePacket struct {
	at     time.Time
	ts     uint32
	marker bool
	seq    uint16
	body   [4]byte
}

var epoch = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// sendDigits builds the packets of the given keys, each lasting dur
// timestamp units, starting gap units apart, 20 ms per packet.
func sendDigits(t testing.TB, keys string, ts0 uint32, dur, gap uint32) []wirePacket {
	t.Helper()
	s, err := NewSender(SenderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []wirePacket
	seq := uint16(65530) // wraps during the test
	ts := ts0
	var pk []Packet
	for i := 0; i < len(keys); i++ {
		code, err := Code(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		pk, err = s.Digit(pk[:0], code, ts, dur)
		if err != nil {
			t.Fatal(err)
		}
		start := epoch.Add(time.Duration(ts-ts0) * time.Second / 8000)
		for j, p := range pk {
			w := wirePacket{at: start.Add(time.Duration(j) * 20 * time.Millisecond), ts: p.Timestamp, marker: p.Marker, seq: seq}
			if err := p.Event.Put(w.body[:]); err != nil {
				t.Fatal(err)
			}
			out = append(out, w)
			seq++
		}
		ts += dur + gap
	}
	return out
}

func receive(t testing.TB, r *Receiver, pkts []wirePacket) []Digit {
	t.Helper()
	var got []Digit
	for _, p := range pkts {
		var err error
		got, err = r.Push(got, p.at, p.ts, p.marker, p.seq, p.body[:])
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func keysOf(t testing.TB, ds []Digit) string {
	t.Helper()
	b := make([]byte, len(ds))
	for i, d := range ds {
		k, err := Key(d.Code)
		if err != nil {
			t.Fatal(err)
		}
		b[i] = k
	}
	return string(b)
}

func TestReceiver(t *testing.T) {
	const dur, gap = 800, 800
	drop := func(pk []wirePacket, keep func(i int, p wirePacket) bool) []wirePacket {
		var out []wirePacket
		for i, p := range pk {
			if keep(i, p) {
				out = append(out, p)
			}
		}
		return out
	}
	isEnd := func(p wirePacket) bool { return p.body[1]&0x80 != 0 }
	for _, tt := range []struct {
		name   string
		ts0    uint32
		keys   string
		mangle func([]wirePacket) []wirePacket
		want   string
		ended  []bool   // per digit; nil = all true
		durs   []uint32 // per digit; nil = all dur
	}{
		{name: "clean", keys: "159#", want: "159#"},
		{name: "every key", keys: "0123456789*#ABCD", want: "0123456789*#ABCD"},
		{name: "repeated key", keys: "777", want: "777"},
		{name: "lost start packets", keys: "12", want: "12", mangle: func(pk []wirePacket) []wirePacket {
			return drop(pk, func(_ int, p wirePacket) bool { return !p.marker })
		}},
		{name: "missing marker bit", keys: "4455", want: "4455", mangle: func(pk []wirePacket) []wirePacket {
			for i := range pk {
				pk[i].marker = false
			}
			return pk
		}},
		{name: "lost end packets", keys: "12", want: "1", ended: []bool{false}, mangle: func(pk []wirePacket) []wirePacket {
			return drop(pk, func(_ int, p wirePacket) bool { return !isEnd(p) })
		}},
		{name: "only end packets", keys: "369", want: "369", mangle: func(pk []wirePacket) []wirePacket {
			return drop(pk, func(_ int, p wirePacket) bool { return isEnd(p) })
		}},
		{name: "every packet twice", keys: "80", want: "80", mangle: func(pk []wirePacket) []wirePacket {
			var out []wirePacket
			for _, p := range pk {
				out = append(out, p, p)
			}
			return out
		}},
		{name: "pairs swapped", keys: "2468", want: "2468", mangle: func(pk []wirePacket) []wirePacket {
			for i := 0; i+1 < len(pk); i += 2 {
				pk[i], pk[i+1] = pk[i+1], pk[i]
			}
			return pk
		}},
		{name: "late end of previous digit", keys: "12", want: "12", mangle: func(pk []wirePacket) []wirePacket {
			// Digit 1 is packets 0-7 (start, 4 updates, 3 ends): move its
			// last end packet after digit 2's start.
			if !isEnd(pk[7]) || !pk[8].marker {
				t.Fatalf("unexpected layout")
			}
			out := append([]wirePacket{}, pk[:7]...)
			out = append(out, pk[8], pk[7])
			return append(out, pk[9:]...)
		}},
		{name: "timestamp wrap", ts0: 0xFFFFFFFF - 1000, keys: "123", want: "123"},
		{name: "lost middle updates", keys: "9", want: "9", mangle: func(pk []wirePacket) []wirePacket {
			return drop(pk, func(i int, _ wirePacket) bool { return i != 2 && i != 3 })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pk := sendDigits(t, tt.keys, tt.ts0, dur, gap)
			if tt.mangle != nil {
				pk = tt.mangle(pk)
			}
			r, err := NewReceiver(ReceiverConfig{})
			if err != nil {
				t.Fatal(err)
			}
			got := receive(t, r, pk)
			if k := keysOf(t, got); k != tt.want {
				t.Fatalf("digits %q, want %q", k, tt.want)
			}
			for i, d := range got {
				wantEnded := tt.ended == nil || tt.ended[i]
				if d.Ended != wantEnded {
					t.Errorf("digit %d ended=%v, want %v", i, d.Ended, wantEnded)
				}
				if d.Duration != dur {
					t.Errorf("digit %d duration %d, want %d", i, d.Duration, dur)
				}
				if want := tt.ts0 + uint32(i)*(dur+gap); d.Timestamp != want {
					t.Errorf("digit %d timestamp %d, want %d", i, d.Timestamp, want)
				}
			}
			// Nothing is reported twice, even on flush.
			if more := r.Flush(nil); len(more) != 0 && tt.ended == nil {
				t.Fatalf("flush reported %v", more)
			}
		})
	}
}

func TestReceiverTimeoutAndFlush(t *testing.T) {
	pk := sendDigits(t, "5", 1000, 800, 0)
	pk = pk[:len(pk)-3] // lose the end packets
	r, err := NewReceiver(ReceiverConfig{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, r, pk); len(got) != 0 {
		t.Fatalf("reported %v before the end", got)
	}
	last := pk[len(pk)-1].at
	if d, ok := r.Active(); !ok || d.Code != 5 || d.Duration != 800 {
		t.Fatalf("active %v %v", d, ok)
	}
	if got := r.Expire(nil, last.Add(50*time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	got := r.Expire(nil, last.Add(150*time.Millisecond))
	if len(got) != 1 || got[0].Code != 5 || got[0].Ended || got[0].Duration != 800 {
		t.Fatalf("expire reported %v", got)
	}
	if _, ok := r.Active(); ok {
		t.Fatal("still active after expiry")
	}
	// The end packets arriving now are stale, not a second digit.
	late := sendDigits(t, "5", 1000, 800, 0)
	if got := receive(t, r, late[len(late)-3:]); len(got) != 0 {
		t.Fatalf("late end packets reported %v", got)
	}
	if s := r.Stats(); s.Digits != 1 || s.LostEnd != 1 || s.Stale != 3 {
		t.Fatalf("stats %+v", s)
	}

	r2, _ := NewReceiver(ReceiverConfig{})
	receive(t, r2, pk[:2])
	if got := r2.Flush(nil); len(got) != 1 || got[0].Duration != 320 {
		t.Fatalf("flush %v", got)
	}
	if got := r2.Flush(nil); len(got) != 0 {
		t.Fatalf("second flush %v", got)
	}
}

func TestReceiverLongEvent(t *testing.T) {
	for _, dur := range []uint32{MaxDuration - 1, MaxDuration, MaxDuration + 160, 3*MaxDuration + 1000} {
		pk := sendDigits(t, "#", 0xFFFF0000, dur, 0)
		r, _ := NewReceiver(ReceiverConfig{})
		got := receive(t, r, pk)
		if len(got) != 1 || got[0].Duration != dur || !got[0].Ended || got[0].Timestamp != 0xFFFF0000 {
			t.Fatalf("duration %d: got %+v", dur, got)
		}
	}
}

// TestReceiverSegmentAtLastUpdate follows a sender that starts the next
// segment where its last update fitted (65440) rather than at 0xFFFF.
func TestReceiverSegmentAtLastUpdate(t *testing.T) {
	r, _ := NewReceiver(ReceiverConfig{})
	var got []Digit
	push := func(ts uint32, marker bool, e Event) {
		var b [4]byte
		if err := e.Put(b[:]); err != nil {
			t.Fatal(err)
		}
		got, _ = r.Push(got, epoch, ts, marker, 0, b[:])
	}
	push(1000, true, Event{Code: 4, Duration: 160})
	push(1000, false, Event{Code: 4, Duration: 65440})
	push(1000+65440, false, Event{Code: 4, Duration: 160})
	for i := 0; i < 3; i++ {
		push(1000+65440, false, Event{Code: 4, End: true, Duration: 800})
	}
	if len(got) != 1 || got[0].Duration != 65440+800 || got[0].Timestamp != 1000 {
		t.Fatalf("got %+v", got)
	}
	// The same key again after a short event whose end was lost is a new
	// digit, not a continuation, even without the marker bit.
	r2, _ := NewReceiver(ReceiverConfig{})
	got = nil
	r = r2
	push(0, true, Event{Code: 4, Duration: 800})
	push(1600, false, Event{Code: 4, Duration: 800})
	got = r.Flush(got)
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
}

func TestReceiverNewStreamAfterSilence(t *testing.T) {
	r, _ := NewReceiver(ReceiverConfig{})
	got := receive(t, r, sendDigits(t, "1", 5000, 800, 0))
	// Half the timestamp space later (serially "older"), after a pause.
	pk := sendDigits(t, "2", 5000+0x80000000+10, 800, 0)
	for i := range pk {
		pk[i].at = pk[i].at.Add(10 * time.Second)
	}
	got = append(got, receive(t, r, pk)...)
	if k := keysOf(t, got); k != "12" {
		t.Fatalf("digits %q", k)
	}
}

func TestReceiverMalformed(t *testing.T) {
	r, _ := NewReceiver(ReceiverConfig{})
	if _, err := r.Push(nil, epoch, 0, true, 0, []byte{1, 2}); !errors.Is(err, ErrShortPayload) {
		t.Fatalf("err %v", err)
	}
	if _, ok := r.Active(); ok {
		t.Fatal("malformed packet started an event")
	}
	if _, err := NewReceiver(ReceiverConfig{Timeout: -1}); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative timeout: %v", err)
	}
}

func TestSender(t *testing.T) {
	s, err := NewSender(SenderConfig{Interval: 50 * time.Millisecond, Volume: 6})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := s.Digit(nil, 3, 1234, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// 400, 800 updates; 1000 end x3.
	wantDur := []uint16{400, 800, 1000, 1000, 1000}
	if len(pk) != len(wantDur) {
		t.Fatalf("%d packets: %v", len(pk), pk)
	}
	for i, p := range pk {
		if p.Timestamp != 1234 || p.Event.Code != 3 || p.Event.Volume != 6 || p.Event.Duration != wantDur[i] {
			t.Fatalf("packet %d: %+v", i, p)
		}
		if p.Marker != (i == 0) || p.Event.End != (i >= 2) {
			t.Fatalf("packet %d marker/end: %+v", i, p)
		}
	}
	if _, err := s.Update(); !errors.Is(err, ErrState) {
		t.Fatalf("update after stop: %v", err)
	}
	if _, err := s.Stop(nil); !errors.Is(err, ErrState) {
		t.Fatalf("stop after stop: %v", err)
	}
	if _, err := s.Start(1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(1, 0); !errors.Is(err, ErrState) {
		t.Fatalf("double start: %v", err)
	}
	if _, err := s.Digit(nil, 1, 0, 10); err == nil {
		t.Fatal("digit shorter than one interval accepted")
	}
	for _, bad := range []SenderConfig{
		{ClockRate: 10}, {Interval: -time.Millisecond}, {Volume: 64}, {EndRepeats: 11}, {Interval: time.Microsecond},
	} {
		if _, err := NewSender(bad); !errors.Is(err, ErrConfig) {
			t.Fatalf("config %+v: %v", bad, err)
		}
	}
}

func TestSenderLongEventSegments(t *testing.T) {
	s, _ := NewSender(SenderConfig{})
	pk, err := s.Digit(nil, 1, 100, 2*MaxDuration+500)
	if err != nil {
		t.Fatal(err)
	}
	var segs []uint32
	for i, p := range pk {
		if len(segs) == 0 || segs[len(segs)-1] != p.Timestamp {
			segs = append(segs, p.Timestamp)
			if i > 0 && p.Marker {
				t.Fatalf("packet %d: marker on a continuation segment", i)
			}
		}
	}
	want := []uint32{100, 100 + MaxDuration, 100 + 2*MaxDuration}
	if len(segs) != len(want) {
		t.Fatalf("segments %v, want %v", segs, want)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Fatalf("segments %v, want %v", segs, want)
		}
	}
	if last := pk[len(pk)-1]; !last.Event.End || last.Event.Duration != 500 {
		t.Fatalf("last %+v", last)
	}
}

// TestReceiverRandomLoss checks, over random loss, duplication and
// reordering, that a digit is never reported twice and never invented.
func TestReceiverRandomLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := "0123456789*#ABCD"
	for run := 0; run < 200; run++ {
		pk := sendDigits(t, keys, rng.Uint32(), 800, 400)
		var net []wirePacket
		for _, p := range pk {
			switch x := rng.IntN(10); {
			case x < 2: // lost
			case x < 3:
				net = append(net, p, p)
			default:
				net = append(net, p)
			}
		}
		for i := 0; i+1 < len(net); i++ {
			if rng.IntN(10) == 0 {
				net[i], net[i+1] = net[i+1], net[i]
			}
		}
		r, _ := NewReceiver(ReceiverConfig{})
		got := r.Flush(receive(t, r, net))
		// The result must be a subsequence of keys, in order.
		k := keysOf(t, got)
		j := 0
		for i := 0; i < len(k); i++ {
			for j < len(keys) && keys[j] != k[i] {
				j++
			}
			if j == len(keys) {
				t.Fatalf("run %d: %q is not an ordered subset of %q", run, k, keys)
			}
			j++
		}
		// With 20% loss, losing all 8 packets of a digit is rare: most
		// digits must arrive.
		if len(k) < len(keys)-2 {
			t.Fatalf("run %d: only %q arrived", run, k)
		}
	}
}

func FuzzReceiver(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5, 10, 0, 160, 0, 0, 0, 2, 5, 0x8a, 3, 32})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xF0, 1, 10, 0xFF, 0xFF, 0, 0, 0, 0xEF, 1, 10, 0, 160})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReceiver(ReceiverConfig{Timeout: 60 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// Each 8-byte record: 4-byte timestamp (top bit of byte 0 = marker,
		// next bit = advance the clock 100 ms) and the 4-byte payload.
		now := epoch
		var got []Digit
		seq := uint16(0)
		for off := 0; off+8 <= len(b); off += 8 {
			ts := uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3])
			if b[off]&0x40 != 0 {
				now = now.Add(100 * time.Millisecond)
			}
			n := len(got)
			got, err = r.Push(got, now, ts, b[off]&0x80 != 0, seq, b[off+4:off+8])
			if err != nil {
				t.Fatal(err)
			}
			if len(got)-n > 2 {
				t.Fatalf("%d digits from one packet", len(got)-n)
			}
			got = r.Expire(got, now)
			seq++
		}
		got = r.Flush(got)
		if s := r.Stats(); s.Digits != uint64(len(got)) {
			t.Fatalf("stats %+v, %d digits", s, len(got))
		}
		if len(got) > len(b)/8 {
			t.Fatalf("%d digits from %d packets", len(got), len(b)/8)
		}
	})
}

func BenchmarkReceiverPush(b *testing.B) {
	pk := sendDigits(b, "1234567890", 0, 800, 800)
	r, _ := NewReceiver(ReceiverConfig{})
	dst := make([]Digit, 0, 4)
	b.ReportAllocs()
	b.SetBytes(PayloadSize)
	i := 0
	for b.Loop() {
		p := pk[i%len(pk)]
		dst, _ = r.Push(dst[:0], p.at, p.ts+uint32(i/len(pk))*16000, p.marker, p.seq, p.body[:])
		i++
	}
}

func BenchmarkSenderDigit(b *testing.B) {
	s, _ := NewSender(SenderConfig{})
	dst := make([]Packet, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Digit(dst[:0], 5, 0, 800)
	}
}
