package guard

import (
	"sync"
)

// shards spreads keyed state over independent locks so no global lock is
// taken on the hot path.
const shards = 64

// bucket is a token bucket; tokens and last are in nanosecond units of
// the limiter's clock.
type bucket struct {
	tokens float64
	last   int64
}

// limiter holds token buckets keyed by a 64-bit hash, in shards, with a
// bound on their number: an insert into a full shard first evicts idle
// buckets (full again), then the oldest it sees.
type limiter struct {
	shards   [shards]limShard
	perShard int
}

type limShard struct {
	mu sync.Mutex
	m  map[uint64]*bucket
}

func newLimiter(maxBuckets int) *limiter {
	l := &limiter{perShard: max(maxBuckets/shards, 16)}
	for i := range l.shards {
		l.shards[i].m = make(map[uint64]*bucket)
	}
	return l
}

// allow takes one token from the bucket key (rate per second, burst tokens)
// at time now (ns). It reports whether a token was available.
func (l *limiter) allow(key uint64, rate, burst float64, now int64) bool {
	sh := &l.shards[key%shards]
	sh.mu.Lock()
	b := sh.m[key]
	if b == nil {
		if len(sh.m) >= l.perShard {
			sh.evict(now, burst/rate)
		}
		b = &bucket{tokens: burst, last: now}
		sh.m[key] = b
	} else {
		el := float64(now-b.last) / 1e9
		if el > 0 {
			b.tokens = min(burst, b.tokens+el*rate)
			b.last = now
		}
	}
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	sh.mu.Unlock()
	return ok
}

// evict drops buckets idle long enough to be full again (refill seconds),
// and if none is, the least recently used of a bounded sample.
func (sh *limShard) evict(now int64, refill float64) {
	idle := int64(refill*1e9) + 1
	var oldest uint64
	oldestAt := int64(1<<63 - 1)
	n := 0
	for k, b := range sh.m {
		if now-b.last >= idle {
			delete(sh.m, k)
			continue
		}
		if b.last < oldestAt {
			oldest, oldestAt = k, b.last
		}
		if n++; n >= 64 {
			break
		}
	}
	if len(sh.m) >= 16 && oldestAt != 1<<63-1 {
		delete(sh.m, oldest)
	}
}

// size is the number of buckets held.
func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
