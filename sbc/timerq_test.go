package sbc

import (
	"sync"
	"testing"
	"time"
)

// firedTimers collects what a timer queue delivers.
type firedTimers struct {
	mu  sync.Mutex
	got []evTimer
	ch  chan struct{}
}

func newQueueForTest(t *testing.T) (*timerQueue, *firedTimers) {
	t.Helper()
	q := newTimerQueue()
	f := &firedTimers{ch: make(chan struct{}, 64)}
	q.deliver = func(_ *call, ev evTimer) {
		f.mu.Lock()
		f.got = append(f.got, ev)
		f.mu.Unlock()
		f.ch <- struct{}{}
	}
	t.Cleanup(q.close)
	return q, f
}

func (f *firedTimers) wait(t *testing.T, n int) []evTimer {
	t.Helper()
	for range n {
		select {
		case <-f.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("timers did not fire: got %d of %d", len(f.fired()), n)
		}
	}
	return f.fired()
}

func (f *firedTimers) fired() []evTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]evTimer(nil), f.got...)
}

func TestTimerQueue(t *testing.T) {
	type arm struct {
		name string
		d    time.Duration
		gen  uint64
	}
	tests := []struct {
		name   string
		arms   []arm
		cancel []string
		want   []uint64 // generations, in firing order
	}{
		{name: "deadline order", arms: []arm{{"a", 60 * time.Millisecond, 1}, {"b", 20 * time.Millisecond, 2}, {"c", 40 * time.Millisecond, 3}}, want: []uint64{2, 3, 1}},
		{name: "re-arm moves an entry", arms: []arm{{"a", 20 * time.Millisecond, 1}, {"b", 40 * time.Millisecond, 2}, {"a", 60 * time.Millisecond, 3}}, want: []uint64{2, 3}},
		{name: "re-arm earlier", arms: []arm{{"a", time.Hour, 1}, {"b", 40 * time.Millisecond, 2}, {"a", 10 * time.Millisecond, 3}}, want: []uint64{3, 2}},
		{name: "cancelled head does not fire", arms: []arm{{"a", 10 * time.Millisecond, 1}, {"b", 30 * time.Millisecond, 2}}, cancel: []string{"a"}, want: []uint64{2}},
		{name: "cancel in the middle", arms: []arm{{"a", 10 * time.Millisecond, 1}, {"b", 20 * time.Millisecond, 2}, {"c", 30 * time.Millisecond, 3}, {"d", 40 * time.Millisecond, 4}}, cancel: []string{"b"}, want: []uint64{1, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, f := newQueueForTest(t)
			entries := map[string]*timerEntry{}
			for _, a := range tt.arms {
				e := entries[a.name]
				if e == nil {
					e = &timerEntry{idx: -1}
					entries[a.name] = e
				}
				q.arm(e, a.d, a.gen)
			}
			for _, name := range tt.cancel {
				q.cancel(entries[name])
			}
			got := f.wait(t, len(tt.want))
			time.Sleep(80 * time.Millisecond) // nothing else may fire
			got = f.fired()
			if len(got) != len(tt.want) {
				t.Fatalf("fired %d timers, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, ev := range got {
				if ev.gen != tt.want[i] {
					t.Errorf("timer %d fired gen %d, want %d (all: %+v)", i, ev.gen, tt.want[i], got)
				}
			}
			if n := q.len(); n != 0 {
				t.Errorf("%d timers left queued", n)
			}
			for name, e := range entries {
				if e.idx != -1 {
					t.Errorf("entry %s still has heap index %d", name, e.idx)
				}
			}
		})
	}
}

// TestTimerQueueHeap checks the heap invariant and indexes through many
// arms, re-arms and cancels.
func TestTimerQueueHeap(t *testing.T) {
	q, _ := newQueueForTest(t)
	entries := make([]*timerEntry, 200)
	for i := range entries {
		entries[i] = &timerEntry{idx: -1}
		q.arm(entries[i], time.Hour+time.Duration((i*7919)%200)*time.Second, uint64(i))
	}
	for i := 0; i < len(entries); i += 3 {
		q.cancel(entries[i])
	}
	for i := 1; i < len(entries); i += 5 {
		q.arm(entries[i], time.Hour+time.Duration((i*104729)%300)*time.Second, uint64(1000+i))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, e := range q.heap {
		if e.idx != i {
			t.Fatalf("entry at %d has index %d", i, e.idx)
		}
		if i > 0 && q.less(i, (i-1)/2) {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	want := 0
	for i := range entries {
		if i%3 != 0 || i%5 == 1 { // cancelled ones re-armed are back
			want++
		}
	}
	if len(q.heap) != want {
		t.Errorf("%d queued, want %d", len(q.heap), want)
	}
}

func TestTimerQueueClosed(t *testing.T) {
	q, f := newQueueForTest(t)
	e := &timerEntry{idx: -1}
	q.arm(e, 10*time.Millisecond, 1)
	q.close()
	q.arm(&timerEntry{idx: -1}, time.Millisecond, 2)
	time.Sleep(50 * time.Millisecond)
	if got := f.fired(); len(got) != 0 {
		t.Errorf("closed queue fired %+v", got)
	}
}
