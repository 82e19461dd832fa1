package guard

import (
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
)

// Count is one counter of refused messages.
type Count struct {
	Stage  string
	Reason string
	N      uint64
}

// stageReasons lists every (stage, reason) pair the chain counts, so the
// counter map is built once and read without a lock.
var stageReasons = map[string][]string{
	StageSanity: {ReasonTooLarge, ReasonNoStartLine, ReasonBadStartLine, ReasonTruncated, ReasonTooManyHeaders,
		ReasonHeaderTooLong, ReasonNUL, ReasonBadHeader, ReasonBadBranch, ReasonTooManyVia, ReasonBadCSeq,
		ReasonBadContentLength, ReasonBadMaxForwards, ReasonBadUTF8, ReasonMissingHeader, ReasonDuplicateHeader,
		ReasonBodyTooLarge, ReasonBadVersion, ReasonCSeqMethod, ReasonBadSDP, ReasonUnparseable, ReasonURIScheme,
		ReasonStrayResponse, ReasonBadExtension},
	StageACL:       {ReasonDenied, ReasonNotAllowed, ReasonNotTrunk},
	StageBlacklist: {ReasonBlocked},
	StageRateLimit: {ReasonSource, ReasonRealm, ReasonTrunk, ReasonAccount, ReasonConnections},
	StageScanner:   {ReasonUserAgent, ReasonDistinctUsers, ReasonUnknownUsers},
}

var blockReasons = []string{ReasonManual, ReasonUserAgent, ReasonDistinctUsers, ReasonUnknownUsers,
	ReasonAuthFailures, ReasonRateExceeded}

type counters struct {
	refused map[string]*atomic.Uint64 // stage + "/" + reason
	blocks  map[string]*atomic.Uint64
	other   atomic.Uint64
}

func newCounters() *counters {
	c := &counters{refused: map[string]*atomic.Uint64{}, blocks: map[string]*atomic.Uint64{}}
	for st, rs := range stageReasons {
		for _, r := range rs {
			c.refused[st+"/"+r] = new(atomic.Uint64)
		}
	}
	for _, r := range blockReasons {
		c.blocks[r] = new(atomic.Uint64)
	}
	return c
}

func (c *counters) add(stage, reason string) {
	if n := c.refused[stage+"/"+reason]; n != nil {
		n.Add(1)
		return
	}
	c.other.Add(1)
}

func (c *counters) blocked(reason string) {
	if n := c.blocks[reason]; n != nil {
		n.Add(1)
	}
}

// Stats returns every refusal counter by stage and reason (zeros
// included), sorted.
func (g *Guard) Stats() []Count {
	out := make([]Count, 0, len(g.stats.refused))
	for k, n := range g.stats.refused {
		for i := range k {
			if k[i] == '/' {
				out = append(out, Count{Stage: k[:i], Reason: k[i+1:], N: n.Load()})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// Blocks returns how many sources were blacklisted, by reason.
func (g *Guard) Blocks() map[string]uint64 {
	out := make(map[string]uint64, len(g.stats.blocks))
	for r, n := range g.stats.blocks {
		out[r] = n.Load()
	}
	return out
}

// BlacklistSize is the number of entries in the blacklist (expired
// entries not yet swept included).
func (g *Guard) BlacklistSize() int { return int(g.bl.count.Load()) }

// connCount counts open stream connections per source IP.
type connCount struct {
	shards [shards]struct {
		mu sync.Mutex
		m  map[netip.Addr]int
	}
}

func newConnCount() *connCount {
	c := &connCount{}
	for i := range c.shards {
		c.shards[i].m = map[netip.Addr]int{}
	}
	return c
}

func (c *connCount) inc(a netip.Addr, limit int) bool {
	sh := &c.shards[addrShard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[a] >= limit {
		return false
	}
	sh.m[a]++
	return true
}

func (c *connCount) dec(a netip.Addr) {
	sh := &c.shards[addrShard(a)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[a] <= 1 {
		delete(sh.m, a)
		return
	}
	sh.m[a]--
}
