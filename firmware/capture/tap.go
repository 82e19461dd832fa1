package capture

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Tap is the hot-path entry point of a Capturer. Its methods are safe for
// concurrent use and never wait for the writer or for I/O.
type Tap struct {
	c *Capturer
}

// item is one queued record with its own copy of the payload.
type item struct {
	rec   Record
	buf   []byte
	caps  *[]*session // sessions of the call, immutable
	addr  bool        // an address filter matched the remote address
	ring  bool        // goes into the ring
	bytes int64       // accounted against the queue's byte budget
	// backfill, when set, makes the item an instruction instead of a
	// record: write the ring's SIP of the call with these keys to caps.
	backfill []string
}

// Packet offers a record to the capture. When no capture wants it (not
// SIP for the ring, no running capture selects its call or address) it
// returns at once; otherwise it copies the payload into a pooled buffer
// and queues it. A full queue drops the record and counts it in
// Stats().Dropped. The caller keeps ownership of rec and its payload.
func (t *Tap) Packet(rec *Record) {
	c := t.c
	wantRing, caps, addr, ok := t.interest(rec)
	if !ok {
		return
	}
	n := len(rec.Payload)
	if n > MaxPayload || !rec.Local.IsValid() && !rec.Remote.IsValid() {
		c.invalid.Add(1)
		return
	}
	if len(c.queue) == cap(c.queue) { // full: drop before copying
		c.dropped.Add(1)
		return
	}
	cost := int64(n) + ringOverhead
	if c.queuedBytes.Add(cost) > c.cfg.QueueBytes {
		c.queuedBytes.Add(-cost)
		c.dropped.Add(1)
		return
	}
	it := c.pool.Get().(*item)
	it.buf = append(it.buf[:0], rec.Payload...)
	it.rec = *rec
	it.rec.Payload = it.buf
	if it.rec.Time.IsZero() {
		it.rec.Time = time.Now()
	}
	it.caps, it.addr, it.ring, it.bytes = caps, addr, wantRing, cost
	select {
	case c.queue <- it:
		c.accepted.Add(1)
	default:
		c.queuedBytes.Add(-cost)
		c.dropped.Add(1)
		c.release(it)
	}
}

// Wants reports whether Packet would keep rec (its payload is not looked
// at), so a caller can skip building a payload nobody wants.
func (t *Tap) Wants(rec *Record) bool {
	_, _, _, ok := t.interest(rec)
	return ok
}

// interest finds who wants rec: the ring, captures of its call, or
// captures of its remote address; ok is false when nobody does.
func (t *Tap) interest(rec *Record) (wantRing bool, caps *[]*session, addr, ok bool) {
	c := t.c
	if c.closed.Load() {
		return false, nil, false, false
	}
	wantRing = c.ringOn && rec.Kind == SIP
	if rec.CallKey != "" && c.callSessions.Load() > 0 {
		caps = c.calls.captures(rec.CallKey)
	}
	if list := c.addrSessions.Load(); list != nil {
		ra := rec.Remote.Addr().Unmap()
		for _, s := range *list {
			if s.filter.Prefix.Contains(ra) {
				addr = true
				break
			}
		}
	}
	return wantRing, caps, addr, wantRing || caps != nil || addr
}

// CallStarted tells the capture about a call and returns whether a
// running capture records it. Call it when the call starts, and again when
// more is known (the other leg's Call-ID, the outgoing realm and trunk):
// calls that share a key (Key or one of Keys) are one call, their
// descriptions are merged and the filters evaluated again. A call, once
// selected, stays selected until its capture ends, and then every record
// carrying any of its keys is captured: both legs' SIP and the media.
func (t *Tap) CallStarted(call Call) bool {
	c := t.c
	if call.Key == "" || c.closed.Load() {
		return false
	}
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	e, ok := c.calls.upsert(call, c.cfg.MaxCalls)
	if !ok {
		c.untracked.Add(1)
		return false
	}
	if c.sessions.Load() == nil {
		return e.caps.Load() != nil
	}
	e.mu.Lock()
	desc := e.call
	e.mu.Unlock()
	before := e.caps.Load()
	for _, s := range *c.sessions.Load() {
		if s.filter.matchesCall(&desc) {
			e.addCap(s)
		}
	}
	after := e.caps.Load()
	if after != before && c.ringOn {
		var added []*session
		for _, s := range *after {
			if before == nil || !slices.Contains(*before, s) {
				added = append(added, s)
			}
		}
		t.backfill(slices.Clone(e.keys), added)
	}
	return after != nil
}

// backfill queues the instruction to write the ring's earlier SIP of a
// call to captures that have just selected it (a call selected by its
// trunk once routed, a capture started mid-call), so that their files
// begin with the call's first INVITE. A full queue drops it (counted).
func (t *Tap) backfill(keys []string, caps []*session) {
	c := t.c
	if len(caps) == 0 || len(keys) == 0 {
		return
	}
	it := c.pool.Get().(*item)
	it.caps, it.backfill = &caps, keys
	select {
	case c.queue <- it:
	default:
		c.dropped.Add(1)
		c.release(it)
	}
}

// CallEnded tells the capture that the call is over. Records of the call
// are still recognised for Config.CallLinger, for the messages that follow
// the end (the 200 to a BYE, the last RTCP).
func (t *Tap) CallEnded(key string) {
	t.c.calls.end(key, time.Now())
}

// Stats returns the capture's counters.
func (t *Tap) Stats() Stats { return t.c.Stats() }

// callEntry is what the Tap knows about one call.
type callEntry struct {
	mu    sync.Mutex // guards call
	call  Call
	keys  []string                   // the table's keys for this entry; guarded by callTable.wmu
	ended atomic.Int64               // unix nanoseconds; 0 while the call runs
	caps  atomic.Pointer[[]*session] // captures recording this call; nil if none
}

// addCap adds s to the entry's captures. Caller holds Capturer.filterMu.
func (e *callEntry) addCap(s *session) {
	old := e.caps.Load()
	var list []*session
	if old != nil {
		for _, x := range *old {
			if x == s {
				return
			}
		}
		list = append(list, *old...)
	}
	list = append(list, s)
	e.caps.Store(&list)
}

// removeCap removes s from the entry's captures. Caller holds
// Capturer.filterMu.
func (e *callEntry) removeCap(s *session) {
	old := e.caps.Load()
	if old == nil {
		return
	}
	list := make([]*session, 0, len(*old))
	for _, x := range *old {
		if x != s {
			list = append(list, x)
		}
	}
	if len(list) == 0 {
		e.caps.Store(nil)
		return
	}
	e.caps.Store(&list)
}

const callShards = 64

// maxCallKeys bounds the keys one call is known by.
const maxCallKeys = 8

// callTable maps call keys to entries, sharded so that concurrent calls
// rarely share a lock. One entry may be reached by several keys (the call
// key, each leg's Call-ID). Readers take one shard's read lock; writers
// hold wmu, then one shard lock at a time.
type callTable struct {
	seed    maphash.Seed
	wmu     sync.Mutex   // serialises upsert and sweep
	entries atomic.Int64 // distinct calls
	shards  [callShards]callShard
}

type callShard struct {
	mu sync.RWMutex
	m  map[string]*callEntry
	_  [32]byte // keep neighbouring shards' locks off one cache line
}

func newCallTable() *callTable {
	t := &callTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*callEntry)
	}
	return t
}

func (t *callTable) shard(key string) *callShard {
	return &t.shards[maphash.String(t.seed, key)%callShards]
}

func (t *callTable) get(key string) *callEntry {
	sh := t.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	sh.mu.RUnlock()
	return e
}

func (t *callTable) set(key string, e *callEntry) {
	sh := t.shard(key)
	sh.mu.Lock()
	if e == nil {
		delete(sh.m, key)
	} else {
		sh.m[key] = e
	}
	sh.mu.Unlock()
}

// captures returns the captures recording the call, or nil.
func (t *callTable) captures(key string) *[]*session {
	e := t.get(key)
	if e == nil {
		return nil
	}
	return e.caps.Load()
}

// upsert adds a call or merges it into the call that shares one of its
// keys (merging two known calls into one when the description links
// them); false when the table is full. When calls are merged, the caller
// must hold Capturer.filterMu (their captures are merged too).
func (t *callTable) upsert(c Call, maxCalls int) (*callEntry, bool) {
	keys := mergeStrings([]string{c.Key}, c.Keys)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	var e *callEntry
	var others []*callEntry
	for _, k := range keys {
		x := t.get(k)
		switch {
		case x == nil:
		case e == nil:
			e = x
		case x != e && !slices.Contains(others, x):
			others = append(others, x)
		}
	}
	if e == nil {
		if t.entries.Load() >= int64(max(1, maxCalls)) {
			return nil, false
		}
		e = &callEntry{call: Call{Key: c.Key}}
		t.entries.Add(1)
	}
	e.mu.Lock()
	e.call.merge(&c)
	e.mu.Unlock()
	for _, o := range others {
		o.mu.Lock()
		oc := o.call
		o.mu.Unlock()
		e.mu.Lock()
		e.call.merge(&oc)
		e.mu.Unlock()
		if caps := o.caps.Load(); caps != nil {
			for _, s := range *caps {
				e.addCap(s)
			}
		}
		keys = append(keys, o.keys...)
		t.entries.Add(-1)
	}
	for _, k := range keys {
		if len(e.keys) >= maxCallKeys && !slices.Contains(e.keys, k) {
			continue
		}
		if !slices.Contains(e.keys, k) {
			e.keys = append(e.keys, k)
		}
		t.set(k, e)
	}
	e.ended.Store(0)
	return e, true
}

// merge adds what d knows to c.
func (c *Call) merge(d *Call) {
	c.Keys = mergeStrings(c.Keys, d.Keys)
	if d.Key != c.Key {
		c.Keys = mergeStrings(c.Keys, []string{d.Key})
	}
	c.CallIDs = mergeStrings(c.CallIDs, d.CallIDs)
	c.Numbers = mergeStrings(c.Numbers, d.Numbers)
	c.Realms = mergeStrings(c.Realms, d.Realms)
	c.Trunks = mergeStrings(c.Trunks, d.Trunks)
	c.Addrs = mergeAddrs(c.Addrs, d.Addrs)
}

func (t *callTable) end(key string, now time.Time) {
	if e := t.get(key); e != nil {
		e.ended.Store(now.UnixNano())
	}
}

// sweep forgets calls that ended before cutoff and returns how many calls
// remain.
func (t *callTable) sweep(cutoff time.Time) int {
	cut := cutoff.UnixNano()
	t.wmu.Lock()
	defer t.wmu.Unlock()
	gone := map[*callEntry]bool{}
	t.each(func(e *callEntry) {
		if ended := e.ended.Load(); ended != 0 && ended < cut {
			gone[e] = true
		}
	})
	for e := range gone {
		for _, k := range e.keys {
			t.set(k, nil)
		}
		t.entries.Add(-1)
	}
	return t.len()
}

// each calls fn for every key's call, shard by shard under the shard's
// read lock (a call known by several keys is seen once per key).
func (t *callTable) each(fn func(*callEntry)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			fn(e)
		}
		sh.mu.RUnlock()
	}
}

// len returns the number of distinct calls.
func (t *callTable) len() int { return int(t.entries.Load()) }

// Bounds on what one call description keeps.
const maxCallValues = 16

func mergeStrings(dst, src []string) []string {
	for _, s := range src {
		if s == "" || len(dst) >= maxCallValues {
			continue
		}
		dup := false
		for _, d := range dst {
			if d == s {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, s)
		}
	}
	return dst
}

func mergeAddrs(dst, src []netip.Addr) []netip.Addr {
	for _, a := range src {
		if !a.IsValid() || len(dst) >= maxCallValues {
			continue
		}
		a = a.Unmap()
		dup := false
		for _, d := range dst {
			if d == a {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, a)
		}
	}
	return dst
}
