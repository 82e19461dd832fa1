package sbc

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestRegistrarDrop(t *testing.T) {
	uri := func(s string) sip.Uri {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	exp := time.Now().Add(time.Hour)
	a := binding{contact: uri("sip:a@10.0.0.1:5060"), source: "192.0.2.1:5060", transport: "UDP", expires: exp}
	b := binding{contact: uri("sip:a@10.0.0.2:5060"), source: "192.0.2.2:5060", transport: "UDP", expires: exp}
	for _, tc := range []struct {
		name    string
		contact string
		source  string
		found   bool
		left    int
	}{
		{"one of two", "sip:a@10.0.0.1:5060", "192.0.2.1:5060", true, 1},
		{"same contact other source", "sip:a@10.0.0.1:5060", "192.0.2.9:5060", false, 2},
		{"unknown contact", "sip:a@10.0.0.3:5060", "192.0.2.1:5060", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistrar()
			changed := 0
			r.changed = func() { changed++ }
			r.update("access", "a", []binding{a, b}, nil, false)
			changed = 0
			if got := r.drop("access", "a", uri(tc.contact), tc.source); got != tc.found {
				t.Errorf("drop = %v, want %v", got, tc.found)
			}
			if n := len(r.lookup("access", "a")); n != tc.left {
				t.Errorf("%d bindings left, want %d", n, tc.left)
			}
			if (changed > 0) != tc.found {
				t.Errorf("persistence told %d times for found=%v", changed, tc.found)
			}
		})
	}
	r := newRegistrar()
	r.update("access", "a", []binding{a}, nil, false)
	if !r.drop("access", "a", a.contact, a.source) || r.count() != 0 || len(r.users) != 0 {
		t.Errorf("dropping the last binding leaves %d bindings, %d users", r.count(), len(r.users))
	}
}
