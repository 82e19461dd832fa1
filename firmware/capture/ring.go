package capture

import "time"

// ringOverhead is what one ring entry costs beyond its payload, counted
// against the ring's byte limit.
const ringOverhead = 160

// ring holds the most recent SIP items, bounded by age and bytes. It is
// owned by the Capturer's goroutine.
type ring struct {
	items    []*item // items[head:] are live, oldest first
	head     int
	bytes    int64
	maxBytes int64
	maxAge   time.Duration
	release  func(*item)
}

func (r *ring) len() int { return len(r.items) - r.head }

func (r *ring) push(it *item, now time.Time) {
	// A pooled buffer may have grown for a large message; the ring keeps
	// only what the payload needs.
	if c := cap(it.buf); c > 4096 && c > 2*len(it.buf) {
		it.buf = append([]byte(nil), it.buf...)
		it.rec.Payload = it.buf
	}
	r.items = append(r.items, it)
	r.bytes += int64(len(it.buf)) + ringOverhead
	r.evict(now)
}

// evict drops the oldest items while the ring is over its byte limit or
// they are older than its age limit.
func (r *ring) evict(now time.Time) {
	cutoff := now.Add(-r.maxAge)
	for r.len() > 0 {
		it := r.items[r.head]
		if r.bytes <= r.maxBytes && !it.rec.Time.Before(cutoff) {
			break
		}
		r.bytes -= int64(len(it.buf)) + ringOverhead
		r.items[r.head] = nil
		r.head++
		r.release(it)
	}
	if r.head > 0 && r.head >= len(r.items)/2 {
		n := copy(r.items, r.items[r.head:])
		clear(r.items[n:])
		r.items = r.items[:n]
		r.head = 0
	}
}

// snapshot copies the ring's records, payloads into one arena, so that
// they can be written while the ring moves on.
func (r *ring) snapshot() []Record {
	live := r.items[r.head:]
	size := 0
	for _, it := range live {
		size += len(it.buf)
	}
	arena := make([]byte, 0, size)
	recs := make([]Record, len(live))
	for i, it := range live {
		start := len(arena)
		arena = append(arena, it.buf...)
		recs[i] = it.rec
		recs[i].Payload = arena[start:len(arena):len(arena)]
	}
	return recs
}

func (r *ring) clear() {
	for _, it := range r.items[r.head:] {
		r.release(it)
	}
	clear(r.items)
	r.items, r.head, r.bytes = r.items[:0], 0, 0
}
