package guard

import (
	"net/netip"
	"sync"
)

// track is what the guard remembers of one source within a window.
type track struct {
	start    int64
	last     int64
	users    []uint64 // distinct users addressed
	unknown  []uint64 // distinct users answered 404
	auth     int
	rateViol int
}

// tracker keeps per-source counters in shards, bounded in number.
type tracker struct {
	shards   [shards]trShard
	perShard int
}

type trShard struct {
	mu sync.Mutex
	m  map[netip.Addr]*track
}

func newTracker(maxSources int) *tracker {
	t := &tracker{perShard: max(maxSources/shards, 16)}
	for i := range t.shards {
		t.shards[i].m = make(map[netip.Addr]*track)
	}
	return t
}

// with runs f on a's record (created or restarted when its window ended)
// under the shard lock and returns f's result.
func (t *tracker) with(a netip.Addr, now, window int64, f func(*track) bool) bool {
	sh := &t.shards[addrShard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tr := sh.m[a]
	if tr == nil {
		if len(sh.m) >= t.perShard {
			t.evict(sh, now, window)
		}
		tr = &track{start: now}
		sh.m[a] = tr
	} else if now-tr.start >= window {
		*tr = track{start: now, users: tr.users[:0], unknown: tr.unknown[:0]}
	}
	tr.last = now
	return f(tr)
}

// evict removes records whose window ended, else the least recently used one.
func (t *tracker) evict(sh *trShard, now, window int64) {
	var lru netip.Addr
	at := int64(1<<63 - 1)
	for k, tr := range sh.m {
		if now-tr.start >= window {
			delete(sh.m, k)
		} else if tr.last < at {
			lru, at = k, tr.last
		}
	}
	if len(sh.m) >= t.perShard && lru.IsValid() {
		delete(sh.m, lru)
	}
}

// addDistinct adds h to set (bounded by limit) and returns the set and its size.
func addDistinct(set []uint64, h uint64, limit int) ([]uint64, int) {
	for _, x := range set {
		if x == h {
			return set, len(set)
		}
	}
	if len(set) < limit {
		set = append(set, h)
	}
	return set, len(set)
}
