package policy

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Set is a compiled, immutable policy. It is safe for concurrent use; a
// reload builds a new Set and swaps it atomically, so calls keep the Set
// they started with.
type Set struct {
	cfg         *Config
	hash        string
	source      []byte
	realms      []*Realm
	realmByName map[string]*Realm
	trunks      []*Trunk
	trunkByName map[string]*Trunk
	routes      []*route
	noRoute     Decision
	// longestPrefix is route_selection longest_prefix.
	longestPrefix bool
	rateTables    map[string]*rateTable
}

// Realm is a compiled realm: its configuration with defaults filled and its
// normalisation rules compiled.
type Realm struct {
	RealmConfig
	// Advertised is the host written into Via and Contact.
	Advertised string
	// MediaAddr is the IP media sockets bind to; MediaAdvertised goes into SDP.
	MediaAddr       netip.Addr
	MediaAdvertised netip.Addr
	// Inbound rules apply to messages received from the realm, Outbound to
	// messages sent into it.
	Inbound, Outbound Rules
	// Auth is the realm's digest authentication; nil when it has none.
	Auth *Auth
	// emergency holds the realm's emergency numbers.
	emergency map[string]bool
	// trunkByAddr and trunkByIP find the trunk a request came from.
	trunkByAddr map[netip.AddrPort]*Trunk
	trunkByIP   map[netip.Addr]*Trunk
}

// Trunk is a compiled trunk. Its SRTP field holds the effective setting:
// the realm's media SRTP when the trunk sets none.
type Trunk struct {
	TrunkConfig
	// Realm is the realm whose listeners reach the trunk.
	Realm *Realm
	// Gateways are sorted by priority.
	Gateways []Gateway
	// Inbound and Outbound are the trunk's own rule sets only; the realm's
	// rules apply as well (realm first, then trunk on ingress; trunk first,
	// then realm on egress is the caller's choice).
	Inbound, Outbound Rules
	failover          map[int]bool
}

// Gateway is one parsed gateway address of a trunk.
type Gateway struct {
	Addr      netip.AddrPort
	Transport string
	Priority  int
	Weight    int
}

// Request is what routing looks at.
type Request struct {
	SourceRealm string
	SourceTrunk string
	RURIUser    string
	RURIHost    string
	FromUser    string
	// Headers returns every value of the named request header (name
	// case-insensitive); nil means the request has no headers to match.
	Headers func(name string) []string
	// Time is when the request arrived; zero means now.
	Time time.Time
	// Explain fills Decision.Checked with every route looked at.
	Explain bool
}

// Decision is the outcome of routing one request.
type Decision struct {
	// Route is the name of the route that matched; empty when none did.
	Route string
	// Service is a built-in endpoint (echo, tone) or empty.
	Service string
	// Registered names the realm whose registered users are the target.
	Registered string
	// Trunks are the candidates in order (after registered users, if any).
	Trunks []*Trunk
	// Reject is set when the request must be refused (including "no route": 404).
	Reject *RejectConfig
	// Strategy is how the route ordered its trunks (empty without a route).
	Strategy string
	// CalledUser and CallingUser are the R-URI and From users after the
	// route's number translation.
	CalledUser, CallingUser string
	// Candidates are every trunk of the route in the decided order, with
	// the figures and notes behind it; those not Usable are not in Trunks.
	Candidates []Candidate
	// Failover is the route's failover settings (nil without a route).
	Failover *Failover
	// Checked lists the routes looked at when the request asked for an explanation.
	Checked []RouteCheck
}

// Message is the view of a SIP message normalisation rules work on; sbc
// implements it over its SIP message type. Header names are matched
// case-insensitively by the implementation.
type Message interface {
	// Headers returns every value of the named header, in order.
	Headers(name string) []string
	// SetHeaders replaces every instance of the header with values; an
	// empty slice removes the header.
	SetHeaders(name string, values []string)
	// User returns the user part of a URI: target is ruri_user, from_user or to_user.
	User(target string) string
	// SetUser rewrites that user part.
	SetUser(target, user string)
}

// Rules is a compiled, ordered list of normalisation rules.
type Rules []rule

// Hash is the SHA-256 (hex) of the file bytes the Set was parsed from.
func (s *Set) Hash() string { return s.hash }

// Source is the document the set was parsed from (do not modify).
func (s *Set) Source() []byte { return s.source }

// Config is the decoded configuration with defaults filled and TLS file
// names resolved. It is shared: treat it as read-only.
func (s *Set) Config() *Config { return s.cfg }

// Realms returns the realms in file order. Do not modify the slice.
func (s *Set) Realms() []*Realm { return s.realms }

// Realm returns the named realm, or nil.
func (s *Set) Realm(name string) *Realm { return s.realmByName[name] }

// Trunks returns the trunks in file order. Do not modify the slice.
func (s *Set) Trunks() []*Trunk { return s.trunks }

// Trunk returns the named trunk, or nil.
func (s *Set) Trunk(name string) *Trunk { return s.trunkByName[name] }

// TrunkByAddr returns the trunk of the named realm that has a gateway at
// src: a gateway with src's exact IP and port wins, else the first trunk (in
// file order) with a gateway at src's IP. IPv4-mapped IPv6 addresses match
// their IPv4 form. It returns nil when no trunk matches.
func (s *Set) TrunkByAddr(realm string, src netip.AddrPort) *Trunk {
	r := s.realmByName[realm]
	if r == nil || !src.IsValid() {
		return nil
	}
	ip := src.Addr().Unmap().WithZone("")
	if t := r.trunkByAddr[netip.AddrPortFrom(ip, src.Port())]; t != nil {
		return t
	}
	return r.trunkByIP[ip]
}

// AllowsHeader reports whether the header may cross from this realm to the
// other leg unchanged; names compare case-insensitively.
func (r *Realm) AllowsHeader(name string) bool {
	for _, h := range r.AllowHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// FailsOver reports whether a final response with this code makes sbcd try
// the next gateway or trunk.
func (t *Trunk) FailsOver(code int) bool { return t.failover[code] }

// Candidates returns the gateways in the order to try them: by priority,
// lower first; within one priority, a random order in which a gateway comes
// first with probability weight/total. rnd supplies the randomness (tests
// pass a seeded one); nil uses the global source.
func (t *Trunk) Candidates(rnd *rand.Rand) []Gateway {
	out := slices.Clone(t.Gateways)
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && out[end].Priority == out[start].Priority {
			end++
		}
		weightedShuffle(out[start:end], rnd)
		start = end
	}
	return out
}

// weightedShuffle orders g so that each position is drawn from the
// remaining gateways with probability proportional to weight.
func weightedShuffle(g []Gateway, rnd *rand.Rand) {
	weightedOrder(g, func(x Gateway) int { return x.Weight }, rnd)
}
