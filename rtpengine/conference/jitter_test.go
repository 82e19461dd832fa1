package conference

import (
	"encoding/binary"
	"fmt"
	"testing"
)

func TestJitter(t *testing.T) {
	type op struct {
		put  []uint16 // sequence numbers stored before the take
		ssrc uint32   // 0: 1
		want int      // take result
		seq  uint16   // payload (= its sequence number) expected with jbGot
	}
	for _, tc := range []struct {
		name  string
		depth int
		ops   []op
		late  uint64
	}{
		{"prefill then in order", 2, []op{
			{put: []uint16{10}, want: jbEmpty},
			{put: []uint16{11}, want: jbGot, seq: 10},
			{want: jbGot, seq: 11},
			{want: jbEmpty}, // dry: prefill again
			{put: []uint16{12}, want: jbEmpty},
			{put: []uint16{13}, want: jbGot, seq: 12},
		}, 0},
		{"reordered", 2, []op{
			{put: []uint16{20, 22, 21}, want: jbGot, seq: 20},
			{want: jbGot, seq: 21},
			{want: jbGot, seq: 22},
		}, 0},
		{"loss concealed", 1, []op{
			{put: []uint16{30, 32}, want: jbGot, seq: 30},
			{want: jbLost},
			{want: jbGot, seq: 32},
		}, 0},
		{"late and duplicate dropped", 1, []op{
			{put: []uint16{40, 41}, want: jbGot, seq: 40},
			{put: []uint16{40, 41}, want: jbGot, seq: 41},
		}, 2},
		{"new ssrc restarts", 1, []op{
			{put: []uint16{50, 51}, want: jbGot, seq: 50},
			{put: []uint16{7}, ssrc: 2, want: jbGot, seq: 7},
		}, 0},
		{"jump restarts", 1, []op{
			{put: []uint16{60}, want: jbGot, seq: 60},
			{put: []uint16{60 + 1000}, want: jbGot, seq: 1060},
		}, 0},
		{"wraps", 1, []op{
			{put: []uint16{65535, 0}, want: jbGot, seq: 65535},
			{want: jbGot, seq: 0},
		}, 0},
		{"too much held: oldest dropped", 1, []op{
			{put: []uint16{100, 101, 102, 103, 104, 105, 106, 107}, want: jbGot, seq: 103},
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := jitter{depth: tc.depth}
			var buf [maxPayload]byte
			for i, o := range tc.ops {
				ssrc := o.ssrc
				if ssrc == 0 {
					ssrc = 1
				}
				for _, s := range o.put {
					var p [2]byte
					binary.BigEndian.PutUint16(p[:], s)
					j.put(s, ssrc, p[:])
				}
				n, st := j.take(buf[:])
				if st != o.want {
					t.Fatalf("op %d: take %d, want %d", i, st, o.want)
				}
				if st == jbGot {
					if got := binary.BigEndian.Uint16(buf[:n]); n != 2 || got != o.seq {
						t.Fatalf("op %d: got packet %d, want %d", i, got, o.seq)
					}
				}
			}
			if j.late != tc.late {
				t.Errorf("late %d, want %d", j.late, tc.late)
			}
		})
	}
}

func TestPushRejects(t *testing.T) {
	r, cfg := testRoom(t, Config{})
	p := r.add(t, cfg, ParticipantConfig{ID: "a", Codec: PCMU, Output: func([]byte) {}})
	good := newTalker(t, PCMU, 0, 500, ampTalk).packet()
	for name, b := range map[string][]byte{
		"short":       good[:11],
		"version 1":   append([]byte{0x40}, good[1:]...),
		"bad padding": append([]byte{0xa0}, append(good[1:len(good)-1:len(good)-1], 0)...),
		"csrc beyond": append([]byte{0x8f}, good[1:20]...),
		"ext beyond":  append([]byte{0x90}, good[1:13]...),
	} {
		before := p.Stats().Errors
		p.Push(b)
		if p.Stats().Errors != before+1 {
			t.Errorf("%s: not counted as an error", name)
		}
	}
	other := append([]byte(nil), good...)
	other[1] = 13 // comfort noise
	p.Push(other)
	if st := p.Stats(); st.Ignored != 1 || st.PacketsIn != 0 {
		t.Errorf("stats %+v", st)
	}
}

func FuzzPush(f *testing.F) {
	f.Add(newTalker(f, PCMU, 0, 500, ampTalk).packet())
	f.Add(event(101, 1, 2, 10, true, 800, true))
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	cfg, _ := Config{MuteDigits: "*6"}.withDefaults()
	p, err := newParticipant(ParticipantConfig{ID: "f", Codec: PCMU, EventPT: 101, Output: func([]byte) {}}, &cfg)
	if err != nil {
		f.Fatal(err)
	}
	r := newRoom("fuzz")
	p.room = r
	r.parts = []*Participant{p}
	f.Fuzz(func(t *testing.T, b []byte) {
		p.Push(b)
		r.tick()
	})
}

func BenchmarkTick(b *testing.B) {
	for _, tc := range []struct {
		codec   string
		n, talk int
	}{
		{PCMU, 20, 3}, {PCMU, 20, 20}, {G722, 20, 3}, {Opus, 20, 3}, {PCMU, 3, 3},
	} {
		b.Run(fmt.Sprintf("%s/%dparticipants/%dtalking", tc.codec, tc.n, tc.talk), func(b *testing.B) {
			r, cfg := testRoom(b, Config{})
			var ks []*talker
			for i := range tc.n {
				ks = append(ks, newTalker(b, tc.codec, 96, 300+float64(i)*100, ampQuiet))
				r.add(b, cfg, ParticipantConfig{ID: fmt.Sprint(i), Codec: tc.codec, PT: 96, Output: func([]byte) {}})
			}
			// Encode the talkers' packets up front: the benchmark measures
			// the mixer (decode, mix, encode), not the test's senders.
			const frames = 50
			pkts := make([][][]byte, tc.talk)
			for i := range pkts {
				for range frames {
					pkts[i] = append(pkts[i], append([]byte(nil), ks[i].packet()...))
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				for i := range tc.talk {
					pk := pkts[i][n%frames]
					binary.BigEndian.PutUint16(pk[2:], uint16(n))
					r.parts[i].Push(pk)
				}
				r.tick()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.n)/1000, "µs/participant/20ms")
		})
	}
}

// TestDefaultOpusComplexity: the rooms' encoders (VoIP) default to
// DefaultOpusComplexity; a set value, -1 for 0 included, is kept.
func TestDefaultOpusComplexity(t *testing.T) {
	for in, want := range map[int]int{0: DefaultOpusComplexity, 5: 5, -1: -1} {
		c, err := Config{OpusComplexity: in}.withDefaults()
		if err != nil || c.OpusComplexity != want {
			t.Errorf("complexity %d: %d (%v), want %d", in, c.OpusComplexity, err, want)
		}
	}
	if DefaultOpusComplexity != 3 {
		t.Errorf("rooms' default %d, docs/configuration.md says 3", DefaultOpusComplexity)
	}
}
