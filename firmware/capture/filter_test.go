package capture

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
		str  string
		err  error
	}{
		{in: "call:a84b4c76e66710@pc33", want: Filter{Kind: ByCall, Value: "a84b4c76e66710@pc33"}, str: "call:a84b4c76e66710@pc33"},
		{in: "number:+4930123", want: Filter{Kind: ByNumber, Value: "+4930123"}, str: "number:+4930123"},
		{in: "addr:192.0.2.7", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("192.0.2.7/32")}, str: "addr:192.0.2.7"},
		{in: "addr:192.0.2.77/24", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("192.0.2.0/24")}, str: "addr:192.0.2.0/24"},
		{in: "addr:::ffff:192.0.2.7", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("192.0.2.7/32")}, str: "addr:192.0.2.7"},
		{in: "addr:::ffff:192.0.2.0/120", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("192.0.2.0/24")}, str: "addr:192.0.2.0/24"},
		{in: "addr:2001:db8::/32", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("2001:db8::/32")}, str: "addr:2001:db8::/32"},
		{in: "addr:fe80::1%eth0", want: Filter{Kind: ByAddr, Prefix: netip.MustParsePrefix("fe80::1/128")}, str: "addr:fe80::1"},
		{in: "number:+4930*", want: Filter{Kind: ByNumber, Value: "+4930*"}, str: "number:+4930*"},
		{in: "realm:core", want: Filter{Kind: ByRealm, Value: "core"}, str: "realm:core"},
		{in: "trunk:carrier", want: Filter{Kind: ByTrunk, Value: "carrier"}, str: "trunk:carrier"},
		{in: "number:49*30", err: ErrFilter},
		{in: "realm:co*", err: ErrFilter},
		{in: "trunk:", err: ErrFilter},
		{in: "call:", err: ErrFilter},
		{in: "call:has space", err: ErrFilter},
		{in: "number:+", err: ErrFilter},
		{in: "addr:300.1.1.1", err: ErrFilter},
		{in: "addr:10.0.0.0/33", err: ErrFilter},
		{in: "user:alice", err: ErrFilter},
		{in: "a84b4c76e66710", err: ErrFilter},
		{in: "", err: ErrFilter},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if f != tt.want || f.String() != tt.str {
				t.Errorf("got %+v (%s), want %+v (%s)", f, f, tt.want, tt.str)
			}
		})
	}
}

func TestFilterMatchesCall(t *testing.T) {
	call := Call{Key: "k1", Keys: []string{"k3"}, CallIDs: []string{"id-a", "id-b"}, Numbers: []string{"+4930123", "100"},
		Addrs: []netip.Addr{netip.MustParseAddr("::ffff:198.51.100.7")}, Realms: []string{"access", "core"}, Trunks: []string{"carrier"}}
	tests := []struct {
		filter string
		want   bool
	}{
		{"call:k1", true},
		{"call:id-b", true},
		{"call:k2", false},
		{"call:k3", true},
		{"number:+4930*", true},
		{"number:493*", true},
		{"number:4931*", false},
		{"number:*", true},
		{"realm:core", true},
		{"realm:cor", false},
		{"trunk:carrier", true},
		{"trunk:core", false},
		{"number:4930123", true},
		{"number:+100", true},
		{"number:10", false},
		{"addr:198.51.100.0/24", true},
		{"addr:198.51.101.7", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.matchesCall(&call); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseFilter: filters come from operators over the admin API. A
// parsed filter prints in a form that parses to the same filter.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"call:abc@host", "number:+4930123", "addr:10.0.0.0/8", "addr:::1", "addr:::ffff:1.2.3.4/120", "x:y", "call:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		again, err := ParseFilter(flt.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose String %q does not parse: %v", s, flt, flt.String(), err)
		}
		if again != flt {
			t.Fatalf("%q: %+v then %+v", s, flt, again)
		}
	})
}
