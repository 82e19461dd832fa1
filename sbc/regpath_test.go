package sbc

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestPathToken(t *testing.T) {
	for _, tc := range []struct{ realm, user string }{
		{"access", "alice"},
		{"access6", "+4930123456"},
		{"a", "user.with-odd_chars!~*'()"},
	} {
		t.Run(tc.realm+"/"+tc.user, func(t *testing.T) {
			tok := pathToken(tc.realm, tc.user)
			if strings.Contains(tok, tc.user) {
				t.Errorf("token %q shows the user in clear", tok)
			}
			var u sip.Uri
			if err := sip.ParseUri("sip:"+tok+"@192.0.2.1:5080;lr", &u); err != nil || u.User != tok {
				t.Fatalf("token %q is not a SIP user part: %v (%q)", tok, err, u.User)
			}
			realm, user, ok := parsePathToken(tok)
			if !ok || realm != tc.realm || user != tc.user {
				t.Errorf("parsePathToken(%q) = %q, %q, %v", tok, realm, user, ok)
			}
		})
	}
}

func TestParsePathTokenRefuses(t *testing.T) {
	for name, tok := range map[string]string{
		"empty":        "",
		"no prefix":    "alice",
		"prefix only":  "ob-",
		"not base32":   "ob-!!!!",
		"no separator": pathPrefix + strings.ToLower(pathEncoding.EncodeToString([]byte("access"))),
		"no user":      pathPrefix + strings.ToLower(pathEncoding.EncodeToString([]byte("access\x00"))),
		"no realm":     pathPrefix + strings.ToLower(pathEncoding.EncodeToString([]byte("\x00alice"))),
	} {
		t.Run(name, func(t *testing.T) {
			if r, u, ok := parsePathToken(tok); ok {
				t.Errorf("parsePathToken(%q) accepted: %q %q", tok, r, u)
			}
		})
	}
}

func TestRegisterChangeAfter(t *testing.T) {
	c := func(s string) sip.Uri {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	cur := []binding{{contact: c("sip:a@10.0.0.1:5060")}, {contact: c("sip:a@10.0.0.2:5060")}}
	for _, tc := range []struct {
		name string
		ch   registerChange
		want []string
	}{
		{"refresh one", registerChange{add: []binding{{contact: c("sip:a@10.0.0.1:5060")}}}, []string{"sip:a@10.0.0.1:5060", "sip:a@10.0.0.2:5060"}},
		{"remove one", registerChange{remove: []sip.Uri{c("sip:a@10.0.0.2:5060")}}, []string{"sip:a@10.0.0.1:5060"}},
		{"remove all", registerChange{removeAll: true}, nil},
		{"replace all", registerChange{removeAll: true, add: []binding{{contact: c("sip:a@10.0.0.3:5060")}}}, []string{"sip:a@10.0.0.3:5060"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.ch.after(cur)
			var s []string
			for _, b := range got {
				s = append(s, b.contact.String())
			}
			if strings.Join(s, ",") != strings.Join(tc.want, ",") {
				t.Errorf("after = %v, want %v", s, tc.want)
			}
		})
	}
}

// FuzzParsePathToken: Route user parts come from the network.
func FuzzParsePathToken(f *testing.F) {
	f.Add(pathToken("access", "alice"))
	f.Add("ob-")
	f.Add("ob-mfrggzdfmztwq")
	f.Fuzz(func(t *testing.T, tok string) {
		realm, user, ok := parsePathToken(tok)
		if !ok {
			return
		}
		if realm == "" || user == "" {
			t.Fatalf("accepted %q with an empty realm or user", tok)
		}
		if again := pathToken(realm, user); !strings.EqualFold(again, tok) {
			// Different spellings of one token are fine; they must decode alike.
			r2, u2, ok2 := parsePathToken(again)
			if !ok2 || r2 != realm || u2 != user {
				t.Fatalf("%q -> %q/%q does not round-trip", tok, realm, user)
			}
		}
	})
}
