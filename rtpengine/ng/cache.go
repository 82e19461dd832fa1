package ng

import (
	"sync"
	"time"
)

// replyCache remembers the reply sent for each (source, cookie) so that a
// retransmitted command is answered with the same bytes and not executed
// again. Entries live for ttl; at most max entries are kept, oldest evicted
// first.
type replyCache struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	items map[string]*cacheEntry
	order []*cacheEntry // insertion order; a ring of at most max live entries
	head  int           // index of the oldest entry in order
}

type cacheEntry struct {
	key   string
	at    time.Time
	done  bool
	reply []byte
}

func newReplyCache(ttl time.Duration, max int) *replyCache {
	return &replyCache{ttl: ttl, max: max, items: make(map[string]*cacheEntry, max)}
}

// cacheState is the result of a lookup.
type cacheState int

const (
	cacheNew     cacheState = iota // not seen: the caller must execute and then store
	cachePending                   // being executed: drop the retransmission
	cacheHit                       // reply available
)

// begin looks key up and, when it is new, records it as pending.
func (c *replyCache) begin(key string, now time.Time) (cacheState, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if e, ok := c.items[key]; ok {
		if e.done {
			return cacheHit, e.reply
		}
		return cachePending, nil
	}
	for c.head < len(c.order) && (len(c.items) >= c.max || len(c.order)-c.head >= 2*c.max) {
		c.evictOldest()
	}
	e := &cacheEntry{key: key, at: now}
	c.items[key] = e
	c.order = append(c.order, e)
	return cacheNew, nil
}

// finish stores the reply of a pending key; a nil reply forgets the key (the
// command was dropped and may be retried).
func (c *replyCache) finish(key string, reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return
	}
	if reply == nil {
		delete(c.items, key) // its slot in order is skipped when evicted
		return
	}
	e.done = true
	e.reply = reply
}

func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// expire drops entries older than ttl. The caller holds mu.
func (c *replyCache) expire(now time.Time) {
	for c.head < len(c.order) {
		e := c.order[c.head]
		if c.live(e) && now.Sub(e.at) < c.ttl {
			break
		}
		c.drop()
	}
	c.compact()
}

// evictOldest drops the oldest live entry. The caller holds mu.
func (c *replyCache) evictOldest() {
	for c.head < len(c.order) {
		live := c.live(c.order[c.head])
		c.drop()
		if live {
			break
		}
	}
	c.compact()
}

// live reports whether e is still the map's entry for its key.
func (c *replyCache) live(e *cacheEntry) bool { return c.items[e.key] == e }

func (c *replyCache) drop() {
	e := c.order[c.head]
	if c.live(e) {
		delete(c.items, e.key)
	}
	c.order[c.head] = nil
	c.head++
}

// compact moves the live tail of order to the front once half is dead, so
// the slice stays bounded by about 2*max.
func (c *replyCache) compact() {
	if c.head == 0 || c.head < len(c.order)/2 {
		return
	}
	n := copy(c.order, c.order[c.head:])
	clear(c.order[n:])
	c.order = c.order[:n]
	c.head = 0
}
