package rfc4733

import "testing"

// TestEmitter: an event of known length and an open one, each step one
// replaced packet: the marker on the first packet only, the duration
// growing by each packet's step and stopping at the target, three end
// packets, then idle.
func TestEmitter(t *testing.T) {
	type pkt struct {
		dur    uint16
		end    bool
		marker bool
	}
	for _, tc := range []struct {
		name   string
		target uint32
		endAt  int // open events: End before this packet
		steps  []uint32
		want   []pkt
	}{
		{"known length", 400, -1, []uint32{160, 160, 160, 160, 160, 160},
			[]pkt{{160, false, true}, {320, false, false}, {400, true, false}, {400, true, false}, {400, true, false}}},
		{"open, ended by the detector", 0, 3, []uint32{160, 240, 160, 160, 160, 160},
			[]pkt{{160, false, true}, {400, false, false}, {560, false, false}, {560, true, false}, {560, true, false}, {560, true, false}}},
		{"long event clamps the duration field", 70000, -1, nil,
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Emitter
			if e.Active() {
				t.Fatal("the zero Emitter is active")
			}
			e.Start(5, 1234, tc.target)
			if tc.want == nil { // clamping: one step of 70000
				var b [PayloadSize]byte
				e.Next(b[:], 70000)
				ev, err := Parse(b[:])
				if err != nil || ev.Duration != MaxDuration || !ev.End {
					t.Fatalf("event %+v %v, want duration 0xFFFF, ended", ev, err)
				}
				return
			}
			var got []pkt
			for i, step := range tc.steps {
				if i == tc.endAt {
					e.End()
					e.End() // twice: still three end packets
				}
				if !e.Active() {
					break
				}
				var b [PayloadSize]byte
				ts, marker := e.Next(b[:], step)
				ev, err := Parse(b[:])
				if err != nil || ts != 1234 || ev.Code != 5 || ev.Volume != 10 {
					t.Fatalf("packet %d: ts %d event %+v %v", i, ts, ev, err)
				}
				got = append(got, pkt{ev.Duration, ev.End, marker})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("packets %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("packet %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if e.Active() {
				t.Error("still active after the end packets")
			}
		})
	}
}

func BenchmarkEmitterNext(b *testing.B) {
	b.ReportAllocs()
	var e Emitter
	var buf [PayloadSize]byte
	for b.Loop() {
		if !e.Active() {
			e.Start(1, 0, 1600)
		}
		e.Next(buf[:], 160)
	}
}
