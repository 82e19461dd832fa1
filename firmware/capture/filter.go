package capture

import (
	"fmt"
	"net/netip"
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
)

var filterKindNames = [...]string{ByCall: "call", ByNumber: "number", ByAddr: "addr"}

// String returns "call", "number" or "addr".
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

// NumberFilter matches calls from, to or via this number.
func NumberFilter(n string) Filter { return Filter{Kind: ByNumber, Value: n} }

// AddrFilter matches calls and records with an address in p.
func AddrFilter(p netip.Prefix) Filter { return Filter{Kind: ByAddr, Prefix: p.Masked()} }

// ParseFilter parses "call:ID", "number:NUMBER" or "addr:IP[/BITS]".
func ParseFilter(s string) (Filter, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return Filter{}, fmt.Errorf("%w: %q: want call:ID, number:NUMBER or addr:IP[/BITS]", ErrFilter, s)
	}
	var f Filter
	switch kind {
	case "call":
		f = CallFilter(value)
	case "number":
		f = NumberFilter(value)
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
		return Filter{}, fmt.Errorf("%w: %q: unknown kind %q (call, number, addr)", ErrFilter, s, kind)
	}
	return f, f.validate()
}

func (f Filter) validate() error {
	switch f.Kind {
	case ByCall, ByNumber:
		if f.Value == "" || len(f.Value) > maxFilterValue {
			return fmt.Errorf("%w: %s filter needs a value of 1 to %d bytes", ErrFilter, f.Kind, maxFilterValue)
		}
		for _, c := range []byte(f.Value) {
			if c <= ' ' || c == 0x7f {
				return fmt.Errorf("%w: %s filter value contains a space or control character", ErrFilter, f.Kind)
			}
		}
		if f.Kind == ByNumber && strings.TrimPrefix(f.Value, "+") == "" {
			return fmt.Errorf("%w: empty number", ErrFilter)
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
	// CallIDs are the Call-IDs of the call's legs.
	CallIDs []string
	// Numbers are the user parts of From, To and the Request-URI.
	Numbers []string
	// Addrs are the peers' signalling and media addresses.
	Addrs []netip.Addr
}

// matchesCall reports whether the filter selects the call.
func (f *Filter) matchesCall(c *Call) bool {
	switch f.Kind {
	case ByCall:
		if c.Key == f.Value {
			return true
		}
		for _, id := range c.CallIDs {
			if id == f.Value {
				return true
			}
		}
	case ByNumber:
		want := strings.TrimPrefix(f.Value, "+")
		for _, n := range c.Numbers {
			if strings.TrimPrefix(n, "+") == want {
				return true
			}
		}
	case ByAddr:
		for _, a := range c.Addrs {
			if f.Prefix.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}
