package guard

import (
	"bytes"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Emergency calls (the realm's emergency numbers, policy
// realms[].emergency) are never refused by a rate limit: not by the
// source, realm, trunk or account buckets, and not by the blacklist entry
// a source earns by exceeding them (reason rate_exceeded). The calls'
// dialogs keep that exemption: the guard remembers each emergency call by
// source and Call-ID while it carries traffic, so its ACK, BYE, re-INVITEs
// and responses pass too. Every other stage (sanity, ACL, scanner, a
// blacklist entry for any other reason) applies to them as to any call.

// emergencyIdle is how long a remembered emergency dialog may carry
// nothing before it is forgotten.
const emergencyIdle = 2 * 60 * 60 * 1e9 // 2h in ns

// emergencyMax bounds the remembered dialogs (per shard: emergencyMax/shards).
const emergencyMax = 16384

// isEmergency reports whether m is a new call to one of the realm's
// emergency numbers.
func (rr *realmRules) isEmergency(m *Msg, b []byte) bool {
	if len(rr.emergency) == 0 || m.Response || m.ToTag || !bytes.Equal(m.method.of(b), []byte("INVITE")) {
		return false
	}
	u := m.RURIUser(b)
	return len(u) > 0 && rr.emergency[string(u)]
}

// dialogs remembers emergency calls by a hash of source IP and Call-ID,
// with the time each last carried a message.
type dialogs struct {
	shards [shards]struct {
		mu sync.Mutex
		m  map[uint64]int64
	}
	passed atomic.Uint64
}

func newDialogs() *dialogs {
	d := &dialogs{}
	for i := range d.shards {
		d.shards[i].m = map[uint64]int64{}
	}
	return d
}

// callKey hashes a source and the Call-ID value of m.
func (g *Guard) callKey(a netip.Addr, m *Msg, b []byte) (uint64, bool) {
	v := headerValue(m.callID.of(b))
	if len(v) == 0 {
		return 0, false
	}
	ab := a.As16()
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(ab[:])
	_, _ = h.Write(v)
	return h.Sum64(), true
}

// headerValue is the trimmed value of a whole header line.
func headerValue(line []byte) []byte {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return nil
	}
	return bytes.TrimSpace(line[i+1:])
}

// add remembers an emergency call.
func (d *dialogs) add(key uint64, now int64) {
	sh := &d.shards[key%shards]
	sh.mu.Lock()
	if _, ok := sh.m[key]; !ok && len(sh.m) >= emergencyMax/shards {
		var oldest uint64
		at := int64(1<<63 - 1)
		for k, t := range sh.m {
			if now-t >= emergencyIdle {
				delete(sh.m, k)
			} else if t < at {
				oldest, at = k, t
			}
		}
		if len(sh.m) >= emergencyMax/shards {
			delete(sh.m, oldest)
		}
	}
	sh.m[key] = now
	sh.mu.Unlock()
}

// has reports whether key is a remembered emergency call, refreshing it.
func (d *dialogs) has(key uint64, now int64) bool {
	sh := &d.shards[key%shards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t, ok := sh.m[key]
	if !ok {
		return false
	}
	if now-t >= emergencyIdle {
		delete(sh.m, key)
		return false
	}
	sh.m[key] = now
	return true
}

// emergency reports whether m is exempt from rate limits in realm rr: a
// new emergency call (remembered from now on) or a message of one.
func (g *Guard) emergency(rr *realmRules, a netip.Addr, m *Msg, b []byte, now int64) bool {
	if rr == nil || len(rr.emergency) == 0 {
		return false
	}
	key, ok := g.callKey(a, m, b)
	if !ok {
		return false
	}
	if rr.isEmergency(m, b) {
		g.em.add(key, now)
		return true
	}
	return g.em.has(key, now)
}

// EmergencyPassed is the number of messages of emergency calls that a
// rate limit, or a blacklist entry for exceeding one, would have refused.
func (g *Guard) EmergencyPassed() uint64 { return g.em.passed.Load() }
