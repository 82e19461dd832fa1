package guard

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// Options configures a Guard.
type Options struct {
	// Logger receives block/unblock records (never one per message). Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// OnBlock is called (outside any lock) when a source is blacklisted,
	// e.g. to send an SNMP trap. Default none.
	OnBlock func(Entry)
	// MaxSources bounds the token buckets and per-source records kept. Default 262144.
	MaxSources int
}

// Guard runs the stages. It is safe for concurrent use; the blacklist,
// buckets and per-source counters survive SetPolicy.
type Guard struct {
	rules   atomic.Pointer[rules]
	bl      *blacklist
	lim     *limiter
	trk     *tracker
	em      *dialogs
	conns   *connCount
	seed    maphash.Seed
	parser  *sip.Parser
	log     *slog.Logger
	now     func() time.Time
	onBlock func(Entry)
	stats   *counters
}

// New builds a Guard with the rules of set.
func New(set *policy.Set, o Options) *Guard {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSources <= 0 {
		o.MaxSources = 1 << 18
	}
	p := sip.NewParser()
	g := &Guard{
		bl: newBlacklist(), lim: newLimiter(o.MaxSources), trk: newTracker(o.MaxSources),
		em: newDialogs(), conns: newConnCount(), seed: maphash.MakeSeed(), parser: p,
		log: o.Logger, now: o.Now, onBlock: o.OnBlock, stats: newCounters(),
	}
	g.SetPolicy(set)
	return g
}

// rates is a compiled RateLimitConfig (per second; 0 = unlimited).
type rates struct {
	requests, calls, registers, inDialog float64
	burst                                float64
}

func compileRates(r policy.RateLimitConfig) rates {
	return rates{requests: float64(r.Requests), calls: float64(r.Calls), registers: float64(r.Registers),
		inDialog: float64(r.InDialog), burst: float64(max(r.Burst, 1))}
}

type trunkRules struct {
	name      string
	key       uint64
	deny      []netip.Prefix
	aclReject bool
	rate      rates
}

type trunkPrefix struct {
	p netip.Prefix
	t *trunkRules
}

type realmRules struct {
	name       string
	key        uint64
	allow      []netip.Prefix
	deny       []netip.Prefix
	aclReject  bool
	trunksOnly bool
	trunkAllow []trunkPrefix
	trunks     map[string]*trunkRules
	src        rates
	realm      rates
	account    rates
	rateReject bool
	// emergency holds the realm's emergency numbers (nil: none).
	emergency map[string]bool
}

type rules struct {
	set            *policy.Set
	lim            Limits
	blDur          int64
	blMax          int
	authFailures   int
	rateViolations int
	blWindow       int64
	scanOff        bool
	userAgents     [][]byte
	unknownUsers   int
	distinctUsers  int
	scanWindow     int64
	tcpIdle        time.Duration
	tcpMsg         time.Duration
	tcpMax         int
	realms         map[string]*realmRules
}

func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := policy.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// SetPolicy compiles the rules of a (validated) policy and swaps them in.
func (g *Guard) SetPolicy(set *policy.Set) {
	c := set.Config().Security
	r := &rules{
		set: set,
		lim: Limits{MaxMessage: c.Sanity.MaxMessageBytes, MaxHeaders: c.Sanity.MaxHeaders,
			MaxHeaderLine: c.Sanity.MaxHeaderBytes, MaxBody: c.Sanity.MaxBodyBytes, MaxVia: c.Sanity.MaxVia,
			MaxForwards: c.Sanity.MaxForwards, MaxSDPMedia: c.Sanity.MaxSDPMedia},
		blDur: int64(c.Blacklist.Duration), blMax: c.Blacklist.MaxEntries,
		authFailures: c.Blacklist.AuthFailures, rateViolations: c.Blacklist.RateViolations,
		blWindow: int64(c.Blacklist.Window), scanOff: c.Scanner.Disabled,
		unknownUsers: c.Scanner.UnknownUsers, distinctUsers: c.Scanner.DistinctUsers,
		scanWindow: int64(c.Scanner.Window), tcpIdle: c.TCP.IdleTimeout, tcpMsg: c.TCP.MessageTimeout,
		tcpMax: c.TCP.MaxPerSource, realms: map[string]*realmRules{},
	}
	for _, ua := range c.Scanner.UserAgents {
		r.userAgents = append(r.userAgents, []byte(strings.ToLower(ua)))
	}
	for _, pr := range set.Realms() {
		s := pr.Security
		rr := &realmRules{name: pr.Name, key: maphash.String(g.seed, "realm\x00"+pr.Name),
			allow: prefixes(s.ACL.Allow), deny: prefixes(s.ACL.Deny), aclReject: s.ACL.Action == "reject",
			trunksOnly: s.TrunksOnly, trunks: map[string]*trunkRules{},
			src: compileRates(s.RateLimit.Source), realm: compileRates(s.RateLimit.Realm),
			account: compileRates(s.RateLimit.Account), rateReject: s.RateLimit.Action == "reject"}
		if len(pr.Emergency) > 0 {
			rr.emergency = make(map[string]bool, len(pr.Emergency))
			for _, n := range pr.Emergency {
				rr.emergency[n] = true
			}
		}
		r.realms[pr.Name] = rr
	}
	for _, t := range set.Trunks() {
		rr := r.realms[t.Realm.Name]
		if rr == nil {
			continue
		}
		tr := &trunkRules{name: t.Name, key: maphash.String(g.seed, "trunk\x00"+t.Name),
			deny: prefixes(t.Security.ACL.Deny), aclReject: t.Security.ACL.Action == "reject",
			rate: compileRates(t.Security.RateLimit)}
		rr.trunks[t.Name] = tr
		for _, p := range prefixes(t.Security.ACL.Allow) {
			rr.trunkAllow = append(rr.trunkAllow, trunkPrefix{p: p, t: tr})
		}
	}
	g.rules.Store(r)
}

// Verdict is the outcome of the chain for one message: the stage that
// refused it (empty when it passed) and the refusal.
type Verdict struct {
	Stage string
	Problem
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trunkOf finds the trunk a source belongs to in a realm: a gateway
// address first, then a trunk's acl.allow.
func (r *rules) trunkOf(rr *realmRules, src netip.AddrPort) *trunkRules {
	if t := r.set.TrunkByAddr(rr.name, src); t != nil {
		return rr.trunks[t.Name]
	}
	for _, tp := range rr.trunkAllow {
		if tp.p.Contains(src.Addr()) {
			return tp.t
		}
	}
	return nil
}

// acl is the ACL stage for a source of a realm.
func (r *rules) acl(rr *realmRules, src netip.AddrPort) (*trunkRules, Problem) {
	a := src.Addr()
	reject := func(reason string, rej bool) Problem {
		p := Problem{Reason: reason}
		if rej {
			p.Code = 403
		}
		return p
	}
	if contains(rr.deny, a) {
		return nil, reject(ReasonDenied, rr.aclReject)
	}
	t := r.trunkOf(rr, src)
	if t != nil {
		if contains(t.deny, a) {
			return t, reject(ReasonDenied, t.aclReject)
		}
		return t, Problem{}
	}
	if rr.trunksOnly {
		return nil, reject(ReasonNotTrunk, rr.aclReject)
	}
	if len(rr.allow) > 0 && !contains(rr.allow, a) {
		return nil, reject(ReasonNotAllowed, rr.aclReject)
	}
	return nil, Problem{}
}

func unmap(src netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(src.Addr().Unmap().WithZone(""), src.Port())
}

// Admit decides whether a stream connection from src may open in realm:
// blacklist, ACL and the per-source connection bound. A true result
// must be paired with Release when the connection closes.
func (g *Guard) Admit(realm string, src netip.AddrPort) bool {
	src = unmap(src)
	r := g.rules.Load()
	if g.bl.blocked(src.Addr(), g.now().UnixNano()) {
		g.stats.add(StageBlacklist, ReasonBlocked)
		return false
	}
	if rr := r.realms[realm]; rr != nil {
		if _, p := r.acl(rr, src); p.Refused() {
			g.stats.add(StageACL, p.Reason)
			return false
		}
	}
	if !g.conns.inc(src.Addr(), r.tcpMax) {
		g.stats.add(StageRateLimit, ReasonConnections)
		return false
	}
	return true
}

// Release ends a connection admitted by Admit.
func (g *Guard) Release(src netip.AddrPort) { g.conns.dec(unmap(src).Addr()) }

// Inspect runs the chain on the bytes of one message received in realm
// from src (stream: framed out of a TCP/TLS connection). m is filled with
// what the scan found, for Reply.
func (g *Guard) Inspect(realm string, src netip.AddrPort, stream bool, b []byte, m *Msg) Verdict {
	src = unmap(src)
	r := g.rules.Load()
	now := g.now().UnixNano()
	a := src.Addr()
	// Blacklisted and denied sources are never answered, so they go
	// first: nothing of theirs is worth scanning. A source blocked for
	// exceeding rate limits in a realm with emergency numbers is the one
	// exception: its emergency calls are let through (emergency.go).
	rr := r.realms[realm]
	why, blocked := g.bl.lookup(a, now)
	if blocked && (why != ReasonRateExceeded || rr == nil || len(rr.emergency) == 0) {
		return g.refuse(StageBlacklist, Problem{Reason: ReasonBlocked})
	}
	var trunk *trunkRules
	if rr != nil {
		var p Problem
		if trunk, p = r.acl(rr, src); p.Refused() {
			return g.refuse(StageACL, p)
		}
	}
	if p := Scan(b, &r.lim, stream, m); p.Refused() {
		if m.Response || bytes.Equal(m.method.of(b), []byte("ACK")) {
			p.Code = 0
		}
		return g.refuse(StageSanity, p)
	}
	if blocked {
		if !g.emergency(rr, a, m, b, now) {
			return g.refuse(StageBlacklist, Problem{Reason: ReasonBlocked})
		}
		g.em.passed.Add(1)
	}
	if m.Response {
		if rr != nil && !blocked && !g.rate(r, rr, trunk, src, m, b, now, true) {
			if !g.emergency(rr, a, m, b, now) {
				return g.refuse(StageRateLimit, Problem{Reason: ReasonSource})
			}
			g.em.passed.Add(1)
		}
		return Verdict{}
	}
	if m.ContentLength != 0 && m.contentType.ok() && eqFold(trimLWS(m.contentType.of(b)), "application/sdp") {
		body := b[m.BodyStart:]
		if m.ContentLength > 0 && m.ContentLength < len(body) {
			body = body[:m.ContentLength]
		}
		if len(body) > 0 && !checkSDP(body, r.lim.MaxSDPMedia) {
			return g.refuse(StageSanity, Problem{Code: 488, Reason: ReasonBadSDP})
		}
	}
	if rr != nil && !blocked {
		if rr.isEmergency(m, b) {
			// A new emergency call takes no token and is remembered, so
			// its dialog passes the limits too.
			if key, ok := g.callKey(a, m, b); ok {
				g.em.add(key, now)
			}
		} else if v := g.rateStage(r, rr, trunk, src, m, b, now); v.Stage != "" {
			return v
		}
	}
	// Trunks are known peers: their traffic is bounded by their own
	// limits, never judged as a scanner's.
	if !r.scanOff && trunk == nil {
		if v := g.scanner(r, realm, a, m, b, now); v.Stage != "" {
			return v
		}
	}
	// Last, the parser itself: anything sipgo would silently discard is
	// answered here instead.
	if _, err := g.parser.ParseSIP(b[:msgEnd(m, b)]); err != nil {
		return g.refuse(StageSanity, Problem{Code: parseCode(m, b), Reason: ReasonUnparseable})
	}
	return Verdict{}
}

// msgEnd is the end of the first message in a datagram (trailing octets
// after Content-Length are ignored, RFC 3261 18.3).
func msgEnd(m *Msg, b []byte) int {
	if m.ContentLength >= 0 && m.BodyStart+m.ContentLength <= len(b) {
		return m.BodyStart + m.ContentLength
	}
	return len(b)
}

// parseCode is the status for a request the parser refuses: 416 for a
// well-formed but unsupported Request-URI scheme, else 400.
func parseCode(m *Msg, b []byte) int {
	if schemeCode(m.ruri.of(b)) == 416 {
		return 416
	}
	return 400
}

func (g *Guard) refuse(stage string, p Problem) Verdict {
	g.stats.add(stage, p.Reason)
	return Verdict{Stage: stage, Problem: p}
}

// inDialog reports whether a request uses the in-dialog budget.
func inDialog(m *Msg, b []byte) bool {
	meth := m.method.of(b)
	return m.ToTag || bytes.Equal(meth, []byte("ACK")) || bytes.Equal(meth, []byte("CANCEL"))
}

// take takes a token from one scope's buckets for the message's class.
func (g *Guard) take(key uint64, rt *rates, m *Msg, b []byte, now int64, dialog bool) bool {
	if dialog {
		return rt.inDialog == 0 || g.lim.allow(key^1, rt.inDialog, rt.inDialog*rt.burst, now)
	}
	if rt.requests > 0 && !g.lim.allow(key^2, rt.requests, rt.requests*rt.burst, now) {
		return false
	}
	meth := m.method.of(b)
	if rt.calls > 0 && bytes.Equal(meth, []byte("INVITE")) && !g.lim.allow(key^3, rt.calls, rt.calls*rt.burst, now) {
		return false
	}
	if rt.registers > 0 && bytes.Equal(meth, []byte("REGISTER")) && !g.lim.allow(key^4, rt.registers, rt.registers*rt.burst, now) {
		return false
	}
	return true
}

func (rt *rates) any() bool { return rt.requests+rt.calls+rt.registers+rt.inDialog > 0 }

func (g *Guard) srcKey(rr *realmRules, a netip.Addr) uint64 {
	b := a.As16()
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(b[:])
	return h.Sum64() ^ rr.key<<8
}

// rate runs the buckets; resp marks a response (in-dialog budget).
func (g *Guard) rate(r *rules, rr *realmRules, t *trunkRules, src netip.AddrPort, m *Msg, b []byte, now int64, resp bool) bool {
	dialog := resp || inDialog(m, b)
	if rr.src.any() && !g.take(g.srcKey(rr, src.Addr()), &rr.src, m, b, now, dialog) {
		return false
	}
	return true
}

func (g *Guard) rateStage(r *rules, rr *realmRules, t *trunkRules, src netip.AddrPort, m *Msg, b []byte, now int64) Verdict {
	dialog := inDialog(m, b)
	reason := ""
	switch {
	case rr.src.any() && !g.take(g.srcKey(rr, src.Addr()), &rr.src, m, b, now, dialog):
		reason = ReasonSource
	case rr.realm.any() && !g.take(rr.key, &rr.realm, m, b, now, dialog):
		reason = ReasonRealm
	case t != nil && t.rate.any() && !g.take(t.key, &t.rate, m, b, now, dialog):
		reason = ReasonTrunk
	case rr.account.any() && !dialog:
		if u := m.FromUser(b); len(u) > 0 && !g.take(maphash.Bytes(g.seed, u)^rr.key, &rr.account, m, b, now, dialog) {
			reason = ReasonAccount
		}
	}
	if reason == "" {
		return Verdict{}
	}
	if len(rr.emergency) > 0 && g.emergency(rr, src.Addr(), m, b, now) {
		g.em.passed.Add(1)
		return Verdict{}
	}
	p := Problem{Reason: reason}
	if !dialog && rr.rateReject {
		p.Code = 503
	}
	// A trunk over its budget is refused, never blacklisted: blocking a
	// gateway would cut every call of the trunk.
	if r.rateViolations > 0 && t == nil {
		hit := g.trk.with(src.Addr(), now, r.blWindow, func(t *track) bool {
			t.rateViol++
			return t.rateViol == r.rateViolations
		})
		if hit {
			g.block(src.Addr(), rr.name, ReasonRateExceeded, now, r)
		}
	}
	return g.refuse(StageRateLimit, p)
}

// scanner detects scanners by User-Agent and by the distinct users one
// source addresses.
func (g *Guard) scanner(r *rules, realm string, a netip.Addr, m *Msg, b []byte, now int64) Verdict {
	if ua := m.userAgent.of(b); len(ua) > 0 {
		for _, s := range r.userAgents {
			if indexFold(ua, string(s)) >= 0 {
				g.block(a, realm, ReasonUserAgent, now, r)
				return g.refuse(StageScanner, Problem{Reason: ReasonUserAgent})
			}
		}
	}
	// Users are walked with REGISTER or OPTIONS; INVITEs to many numbers
	// are what a busy site does (INVITE scans meet the 404 detector).
	meth := m.method.of(b)
	if r.distinctUsers <= 0 || inDialog(m, b) {
		return Verdict{}
	}
	var user []byte
	switch {
	case bytes.Equal(meth, []byte("REGISTER")):
		user = m.ToUser(b)
	case bytes.Equal(meth, []byte("OPTIONS")):
		user = m.RURIUser(b)
	}
	if len(user) == 0 {
		return Verdict{}
	}
	h := maphash.Bytes(g.seed, user)
	hit := g.trk.with(a, now, r.scanWindow, func(t *track) bool {
		var n int
		t.users, n = addDistinct(t.users, h, r.distinctUsers)
		return n >= r.distinctUsers
	})
	if hit {
		g.block(a, realm, ReasonDistinctUsers, now, r)
		return g.refuse(StageScanner, Problem{Reason: ReasonDistinctUsers})
	}
	return Verdict{}
}

// Sent is called with every message sbcd sends to dst in realm. A 404 to
// an out-of-dialog request counts towards the source's unknown users.
func (g *Guard) Sent(realm string, dst netip.Addr, b []byte) {
	if len(b) < 12 || !bytes.HasPrefix(b, []byte("SIP/2.0 404")) {
		return
	}
	r := g.rules.Load()
	if r.scanOff || r.unknownUsers <= 0 {
		return
	}
	var m Msg
	m.scanHeadersForReply(b)
	user := m.ToUser(b)
	if len(user) == 0 {
		return
	}
	dst = dst.Unmap().WithZone("")
	if rr := r.realms[realm]; rr != nil && r.trunkOf(rr, netip.AddrPortFrom(dst, 0)) != nil {
		return
	}
	now := g.now().UnixNano()
	h := maphash.Bytes(g.seed, user)
	hit := g.trk.with(dst, now, r.scanWindow, func(t *track) bool {
		var n int
		t.unknown, n = addDistinct(t.unknown, h, r.unknownUsers)
		return n >= r.unknownUsers
	})
	if hit {
		g.stats.add(StageScanner, ReasonUnknownUsers)
		g.block(dst, realm, ReasonUnknownUsers, now, r)
	}
}

// ReportAuthFailure counts a failed authentication from ip; after
// security.blacklist.auth_failures of them within the window the source
// is blacklisted. It reports whether this call blocked ip.
func (g *Guard) ReportAuthFailure(ip netip.Addr) bool {
	r := g.rules.Load()
	if r.authFailures <= 0 || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	now := g.now().UnixNano()
	hit := g.trk.with(ip, now, r.blWindow, func(t *track) bool {
		t.auth++
		return t.auth == r.authFailures
	})
	if hit {
		g.block(ip, "", ReasonAuthFailures, now, r)
	}
	return hit
}

func (g *Guard) block(a netip.Addr, realm, reason string, now int64, r *rules) {
	until := now + r.blDur
	if !g.bl.add(a, realm, reason, now, until, r.blMax) {
		return
	}
	g.stats.blocked(reason)
	e := Entry{Address: a, Realm: realm, Reason: reason, Added: time.Unix(0, now).UTC(), Expires: time.Unix(0, until).UTC()}
	g.log.Warn("source blacklisted", "source", a.String(), "realm", realm, "reason", reason, "until", e.Expires)
	if g.onBlock != nil {
		g.onBlock(e)
	}
}

// Block blacklists ip by hand for d (0: until unblocked).
func (g *Guard) Block(ip netip.Addr, d time.Duration) (Entry, error) {
	if !ip.IsValid() {
		return Entry{}, ErrBadAddress
	}
	if d < 0 {
		return Entry{}, ErrBadDuration
	}
	ip = ip.Unmap().WithZone("")
	r := g.rules.Load()
	now := g.now().UnixNano()
	var until int64
	if d > 0 {
		until = now + int64(d)
	}
	g.bl.remove(ip)
	g.bl.add(ip, "", ReasonManual, now, until, r.blMax+1)
	g.stats.blocked(ReasonManual)
	e := Entry{Address: ip, Reason: ReasonManual, Added: time.Unix(0, now).UTC()}
	if until != 0 {
		e.Expires = time.Unix(0, until).UTC()
	}
	g.log.Warn("source blacklisted", "source", ip.String(), "reason", ReasonManual, "duration", d)
	if g.onBlock != nil {
		g.onBlock(e)
	}
	return e, nil
}

// Unblock removes ip from the blacklist.
func (g *Guard) Unblock(ip netip.Addr) error {
	if !ip.IsValid() {
		return ErrBadAddress
	}
	if !g.bl.remove(ip.Unmap().WithZone("")) {
		return fmt.Errorf("%s: %w", ip, ErrNotListed)
	}
	g.log.Info("source unblocked", "source", ip.String())
	return nil
}

// Blocked reports whether ip is blacklisted now.
func (g *Guard) Blocked(ip netip.Addr) bool {
	return g.bl.blocked(ip.Unmap().WithZone(""), g.now().UnixNano())
}

// Blacklist lists the live entries, sorted by address.
func (g *Guard) Blacklist() []Entry { return g.bl.list(g.now().UnixNano()) }
