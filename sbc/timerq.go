package sbc

import (
	"sync"
	"time"
)

// timerQueue runs the timers of every call: a min-heap by deadline and one
// runtime timer for the earliest entry. A call's armed timer costs one
// small entry, reused when the timer is re-armed, instead of a runtime
// timer and a closure each; the runtime timer's callback only posts the
// due entries' events to their calls.
type timerQueue struct {
	mu     sync.Mutex
	heap   []*timerEntry
	wake   *time.Timer
	next   time.Time // when wake fires (zero: not armed)
	closed bool
	// deliver hands a due timer's event to its call (tests replace it).
	deliver func(*call, evTimer)
}

// timerEntry is one armed timer of a call. Its fields belong to the queue
// (read and written under its lock).
type timerEntry struct {
	when time.Time
	c    *call
	kind timerKind
	side Side
	gen  uint64
	idx  int // index in the heap; -1 when not queued
}

func newTimerQueue() *timerQueue {
	q := &timerQueue{deliver: func(c *call, ev evTimer) { c.post(ev) }}
	q.wake = time.AfterFunc(time.Hour, q.fire)
	q.wake.Stop()
	return q
}

// arm queues e (or moves it, if queued) to fire after d with gen.
func (q *timerQueue) arm(e *timerEntry, d time.Duration, gen uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	e.when = time.Now().Add(d)
	e.gen = gen
	if e.idx < 0 {
		e.idx = len(q.heap)
		q.heap = append(q.heap, e)
		q.up(e.idx)
	} else if !q.down(e.idx) {
		q.up(e.idx)
	}
	q.rewind()
}

// cancel takes e out of the queue.
func (q *timerQueue) cancel(e *timerEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.remove(e)
}

func (q *timerQueue) remove(e *timerEntry) {
	i := e.idx
	if i < 0 || i >= len(q.heap) || q.heap[i] != e {
		return
	}
	last := len(q.heap) - 1
	if i != last {
		q.swap(i, last)
	}
	q.heap[last] = nil
	q.heap = q.heap[:last]
	e.idx = -1
	if i != last && !q.down(i) {
		q.up(i)
	}
	// The wake timer may fire early for a removed head: fire re-arms it.
}

// len reports the number of queued timers.
func (q *timerQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.heap)
}

// close stops the queue: queued timers never fire.
func (q *timerQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.wake.Stop()
	for _, e := range q.heap {
		e.idx = -1
	}
	q.heap = nil
}

// rewind sets the runtime timer to the earliest deadline if it would fire
// later than that (or not at all).
func (q *timerQueue) rewind() {
	if len(q.heap) == 0 {
		return
	}
	head := q.heap[0].when
	if !q.next.IsZero() && !head.Before(q.next) {
		return
	}
	q.next = head
	q.wake.Reset(time.Until(head))
}

// fire posts the events of every due timer to its call.
func (q *timerQueue) fire() {
	var due []dueTimer
	q.mu.Lock()
	now := time.Now()
	q.next = time.Time{}
	for len(q.heap) > 0 && !q.heap[0].when.After(now) {
		e := q.heap[0]
		due = append(due, dueTimer{c: e.c, ev: evTimer{kind: e.kind, side: e.side, gen: e.gen}})
		q.remove(e)
	}
	if !q.closed {
		q.rewind()
	}
	q.mu.Unlock()
	for _, d := range due {
		q.deliver(d.c, d.ev)
	}
}

type dueTimer struct {
	c  *call
	ev evTimer
}

func (q *timerQueue) less(i, j int) bool { return q.heap[i].when.Before(q.heap[j].when) }

func (q *timerQueue) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.heap[i].idx = i
	q.heap[j].idx = j
}

func (q *timerQueue) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

// down sifts i down and reports whether it moved.
func (q *timerQueue) down(i0 int) bool {
	i, n := i0, len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && q.less(r, l) {
			j = r
		}
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}
