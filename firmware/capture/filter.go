package capture

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// FilterKind says what a Filter matches.
type FilterKind uint8

// Filter kinds.
const (
	// ByCall matches a call by its call key or by the Call-ID of one of
	// its legs.
	ByCall FilterKind = iota + 1
	// ByNumber matches a call by a number: the user part of From, To or
	// the Request-URI. A leading "+" is ignored on both sides.
	ByNumber
	// ByAddr matches calls with a signalling or media address in a prefix,
	// and any record whose remote address is in it (also outside calls,
	// such as REGISTER or OPTIONS).
	ByAddr
	// ByRealm matches calls that enter or leave through a realm.
	ByRealm
	// ByTrunk matches calls routed to a trunk.
	ByTrunk
)

var filterKindNames = [...]string{ByCall: "call", ByNumber: "number", ByAddr: "addr", ByRealm: "realm", ByTrunk: "trunk"}

// String returns "call", "number", "addr", "realm" or "trunk".
func (k FilterKind) String() string {
	if int(k) < len(filterKindNames) && filterKindNames[k] != "" {
		return filterKindNames[k]
	}
	return "unknown"
}

// maxFilterValue bounds the length of a filter's value.
const maxFilterValue = 256

// Filter selects what a per-call capture records. Build it with
// ParseFilter or the CallFilter, NumberFilter and AddrFilter functions.
type Filter struct {
	Kind   FilterKind
	Value  string       // call key, Call-ID or number; empty for ByAddr
	Prefix netip.Prefix // ByAddr only; a single address is a /32 or /128
}

// CallFilter matches the call with this call key or leg Call-ID.
func CallFilter(id string) Filter { return Filter{Kind: ByCall, Value: id} }

// NumberFilter matches calls from, to or via this number; a trailing "*"
// matches every number with that prefix.
func NumberFilter(n string) Filter { return Filter{Kind: ByNumber, Value: n} }

// AddrFilter matches calls and records with an address in p.
func AddrFilter(p netip.Prefix) Filter { return Filter{Kind: ByAddr, Prefix: p.Masked()} }

// RealmFilter matches calls through this realm.
func RealmFilter(name string) Filter { return Filter{Kind: ByRealm, Value: name} }

// TrunkFilter matches calls routed to this trunk.
func TrunkFilter(name string) Filter { return Filter{Kind: ByTrunk, Value: name} }

// ParseFilter parses "call:ID", "number:NUMBER" (NUMBER* for a prefix),
// "addr:IP[/BITS]", "realm:NAME" or "trunk:NAME".
func ParseFilter(s string) (Filter, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return Filter{}, fmt.Errorf("%w: %q: want call:ID, number:NUMBER[*], addr:IP[/BITS], realm:NAME or trunk:NAME", ErrFilter, s)
	}
	var f Filter
	switch kind {
	case "call":
		f = CallFilter(value)
	case "number":
		f = NumberFilter(value)
	case "realm":
		f = RealmFilter(value)
	case "trunk":
		f = TrunkFilter(value)
	case "addr":
		if strings.Contains(value, "/") {
			p, err := netip.ParsePrefix(value)
			if err != nil {
				return Filter{}, fmt.Errorf("%w: %q: %w", ErrFilter, s, err)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				// Records carry unmapped addresses: match them as IPv4.
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			f = AddrFilter(p)
		} else {
			a, err := netip.ParseAddr(value)
			if err != nil {
				return Filter{}, fmt.Errorf("%w: %q: %w", ErrFilter, s, err)
			}
			a = a.Unmap().WithZone("")
			f = AddrFilter(netip.PrefixFrom(a, a.BitLen()))
		}
	default:
		return Filter{}, fmt.Errorf("%w: %q: unknown kind %q (call, number, addr, realm, trunk)", ErrFilter, s, kind)
	}
	return f, f.validate()
}

func (f Filter) validate() error {
	switch f.Kind {
	case ByCall, ByNumber, ByRealm, ByTrunk:
		if f.Value == "" || len(f.Value) > maxFilterValue {
			return fmt.Errorf("%w: %s filter needs a value of 1 to %d bytes", ErrFilter, f.Kind, maxFilterValue)
		}
		for _, c := range []byte(f.Value) {
			if c <= ' ' || c == 0x7f {
				return fmt.Errorf("%w: %s filter value contains a space or control character", ErrFilter, f.Kind)
			}
		}
		if f.Kind == ByNumber {
			n := strings.TrimPrefix(f.Value, "+")
			if n == "" {
				return fmt.Errorf("%w: empty number", ErrFilter)
			}
			if i := strings.IndexByte(n, '*'); i >= 0 && i != len(n)-1 {
				return fmt.Errorf("%w: number %q: '*' may only end a number (a prefix)", ErrFilter, f.Value)
			}
		} else if strings.Contains(f.Value, "*") {
			return fmt.Errorf("%w: %s filter value contains '*'", ErrFilter, f.Kind)
		}
	case ByAddr:
		if !f.Prefix.IsValid() {
			return fmt.Errorf("%w: addr filter needs an address or prefix", ErrFilter)
		}
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrFilter, f.Kind)
	}
	return nil
}

// String returns the filter in the form ParseFilter reads.
func (f Filter) String() string {
	if f.Kind == ByAddr {
		p := f.Prefix
		if p.IsSingleIP() {
			return "addr:" + p.Addr().String()
		}
		return "addr:" + p.String()
	}
	return f.Kind.String() + ":" + f.Value
}

// Call describes a call to the Tap: what filters can match it by.
type Call struct {
	// Key is the call key that records of this call carry.
	Key string
	// Keys are further call keys of the same call (the Call-ID of each
	// leg, the media's call id): records carrying any of them belong to
	// the call, and descriptions given under any of them are merged.
	Keys []string
	// CallIDs are the Call-IDs of the call's legs.
	CallIDs []string
	// Numbers are the user parts of From, To and the Request-URI.
	Numbers []string
	// Addrs are the peers' signalling and media addresses.
	Addrs []netip.Addr
	// Realms are the realms the call enters and leaves through.
	Realms []string
	// Trunks are the trunks the call is routed to.
	Trunks []string
}

// matchesCall reports whether the filter selects the call.
func (f *Filter) matchesCall(c *Call) bool {
	switch f.Kind {
	case ByCall:
		return c.Key == f.Value || slices.Contains(c.Keys, f.Value) || slices.Contains(c.CallIDs, f.Value)
	case ByNumber:
		want := strings.TrimPrefix(f.Value, "+")
		prefix, isPrefix := strings.CutSuffix(want, "*")
		for _, n := range c.Numbers {
			n = strings.TrimPrefix(n, "+")
			if n == want || isPrefix && strings.HasPrefix(n, prefix) {
				return true
			}
		}
	case ByRealm:
		return slices.Contains(c.Realms, f.Value)
	case ByTrunk:
		return slices.Contains(c.Trunks, f.Value)
	case ByAddr:
		for _, a := range c.Addrs {
			if f.Prefix.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}
