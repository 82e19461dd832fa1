package policy

import (
	"math/rand/v2"
	"net/netip"
)

// Set is a compiled, immutable policy. It is safe for concurrent use; a
// reload builds a new Set and swaps it atomically, so calls keep the Set
// they started with.
type Set struct {
	cfg         *Config
	hash        string
	realms      []*Realm
	realmByName map[string]*Realm
	trunks      []*Trunk
	trunkByName map[string]*Trunk
	routes      []*route
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
	allowHeaders      map[string]bool
}

// Trunk is a compiled trunk.
type Trunk struct {
	TrunkConfig
	// Realm is the realm whose listeners reach the trunk.
	Realm *Realm
	// Gateways are sorted by priority.
	Gateways          []Gateway
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

// rand source type used by Candidates; tests pass a seeded one.
var _ = rand.N[int]

// route and rule are completed by the compiler in compile.go and normalize.go.
type route struct{}
type rule struct{}
