package snmp

import (
	"fmt"
	"strconv"
	"strings"
)

// OID is an SNMP object identifier as a list of sub-identifiers.
type OID []uint32

// ParseOID parses dotted numeric notation such as "1.3.6.1.4.1.99999" (a
// leading dot is accepted).
func ParseOID(s string) (OID, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadOID)
	}
	parts := strings.Split(s, ".")
	if len(parts) > maxSubIDs {
		return nil, fmt.Errorf("%w: more than %d sub-identifiers", ErrBadOID, maxSubIDs)
	}
	o := make(OID, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: sub-identifier %d: %w", ErrBadOID, s, i+1, err)
		}
		o[i] = uint32(v)
	}
	return o, nil
}

// MustOID is ParseOID for constants known to be valid; it panics otherwise
// and is meant for package-level tables and tests only.
func MustOID(s string) OID {
	o, err := ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String returns the dotted numeric form without a leading dot.
func (o OID) String() string {
	var b strings.Builder
	for i, v := range o {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

// Compare orders OIDs lexicographically: -1 if o sorts before p, 0 if
// equal, +1 if after.
func (o OID) Compare(p OID) int {
	n := min(len(o), len(p))
	for i := 0; i < n; i++ {
		switch {
		case o[i] < p[i]:
			return -1
		case o[i] > p[i]:
			return 1
		}
	}
	switch {
	case len(o) < len(p):
		return -1
	case len(o) > len(p):
		return 1
	}
	return 0
}

// HasPrefix reports whether prefix is o itself or an ancestor of o.
func (o OID) HasPrefix(prefix OID) bool {
	if len(prefix) > len(o) {
		return false
	}
	for i, v := range prefix {
		if o[i] != v {
			return false
		}
	}
	return true
}

// Append returns a new OID of o followed by subs; o is not modified.
func (o OID) Append(subs ...uint32) OID {
	r := make(OID, 0, len(o)+len(subs))
	r = append(r, o...)
	return append(r, subs...)
}
