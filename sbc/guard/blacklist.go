package guard

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one blacklisted source.
type Entry struct {
	// Address is the blocked source IP.
	Address netip.Addr `json:"address"`
	// Realm is the realm the source was caught in (empty for manual
	// blocks and authentication failures).
	Realm string `json:"realm,omitempty"`
	// Reason is why: manual, user_agent, distinct_users, unknown_users,
	// auth_failures or rate_exceeded.
	Reason string `json:"reason"`
	// Added is when the block started.
	Added time.Time `json:"added"`
	// Expires is when it ends; zero for a manual block without end.
	Expires time.Time `json:"expires,omitzero"`
}

// Blacklist reasons besides the stage reasons.
const (
	ReasonManual       = "manual"
	ReasonAuthFailures = "auth_failures"
	ReasonRateExceeded = "rate_exceeded"
)

type blEntry struct {
	realm  string
	reason string
	added  int64
	until  int64 // ns; 0 = never
}

// blacklist is a sharded map of blocked IPs.
type blacklist struct {
	shards [shards]blShard
	count  atomic.Int64
}

type blShard struct {
	mu sync.RWMutex
	m  map[netip.Addr]blEntry
}

func newBlacklist() *blacklist {
	b := &blacklist{}
	for i := range b.shards {
		b.shards[i].m = make(map[netip.Addr]blEntry)
	}
	return b
}

func addrShard(a netip.Addr) uint64 {
	b := a.As16()
	return uint64(b[15]^b[14]*7^b[13]*31^b[12]*131^b[7]*17) % shards
}

// blocked reports whether a is blocked at now; expired entries are removed.
func (b *blacklist) blocked(a netip.Addr, now int64) bool {
	_, ok := b.lookup(a, now)
	return ok
}

// lookup reports whether a is blocked at now and why; expired entries
// are removed.
func (b *blacklist) lookup(a netip.Addr, now int64) (string, bool) {
	sh := &b.shards[addrShard(a)]
	sh.mu.RLock()
	e, ok := sh.m[a]
	sh.mu.RUnlock()
	if !ok {
		return "", false
	}
	if e.until != 0 && now >= e.until {
		sh.mu.Lock()
		if e2, ok := sh.m[a]; ok && e2.until == e.until {
			delete(sh.m, a)
			b.count.Add(-1)
		}
		sh.mu.Unlock()
		return "", false
	}
	return e.reason, true
}

// add blocks a until until (0: no end). It reports whether a was not
// already blocked. When the list holds maxEntries, the entry of the
// shard closest to expiry makes room.
func (b *blacklist) add(a netip.Addr, realm, reason string, now, until int64, maxEntries int) bool {
	sh := &b.shards[addrShard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, had := sh.m[a]
	if had && (old.until == 0 || (until != 0 && old.until >= until)) {
		return false
	}
	if !had && int(b.count.Load()) >= maxEntries {
		var victim netip.Addr
		best := int64(1<<63 - 1)
		for k, e := range sh.m {
			if e.until != 0 && e.until < best {
				victim, best = k, e.until
			}
		}
		if !victim.IsValid() {
			return false
		}
		delete(sh.m, victim)
		b.count.Add(-1)
	}
	sh.m[a] = blEntry{realm: realm, reason: reason, added: now, until: until}
	if !had {
		b.count.Add(1)
	}
	return !had || (old.until != 0 && now >= old.until)
}

func (b *blacklist) remove(a netip.Addr) bool {
	sh := &b.shards[addrShard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[a]; !ok {
		return false
	}
	delete(sh.m, a)
	b.count.Add(-1)
	return true
}

// list returns the live entries, sorted by address.
func (b *blacklist) list(now int64) []Entry {
	var out []Entry
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		for a, e := range sh.m {
			if e.until != 0 && now >= e.until {
				continue
			}
			en := Entry{Address: a, Realm: e.realm, Reason: e.reason, Added: time.Unix(0, e.added).UTC()}
			if e.until != 0 {
				en.Expires = time.Unix(0, e.until).UTC()
			}
			out = append(out, en)
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(x, y Entry) int { return x.Address.Compare(y.Address) })
	return out
}
