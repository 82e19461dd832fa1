package policy

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and its
// result is either a usable Set or an Errors value.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(routeDoc))
	rnd := rand.New(rand.NewPCG(7, 7))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Named inside testdata so relative TLS files resolve as in the corpus.
		s, err := Parse("testdata/fuzz.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not a non-empty Errors: %v", err)
			}
			for _, e := range es {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", err)
				}
			}
			return
		}
		if len(s.Realms()) == 0 || len(s.Hash()) != 64 {
			t.Fatal("valid Set without realms or hash")
		}
		d := s.Route(Request{SourceRealm: s.Realms()[0].Name, RURIUser: "100", RURIHost: "h", FromUser: "u"})
		if d.Route == "" && (d.Reject == nil || d.Reject.Code != 404) {
			t.Fatalf("no route but no 404: %+v", d)
		}
		for _, tr := range s.Trunks() {
			if c := tr.Candidates(rnd); len(c) != len(tr.Gateways) {
				t.Fatalf("trunk %s: %d candidates for %d gateways", tr.Name, len(c), len(tr.Gateways))
			}
			s.TrunkByAddr(tr.Realm.Name, netip.MustParseAddrPort("127.0.0.1:5060"))
		}
		for _, r := range s.Realms() {
			m := newFakeMsg()
			m.headers["supported"] = []string{"timer, 100rel"}
			m.users["ruri_user"] = "0301234"
			r.Inbound.Apply(m)
			r.Outbound.Apply(m)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/full.good.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("testdata/full.good.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzApply runs every kind of normalisation rule over arbitrary header
// values and URI users: no panic, and the rules' promises hold.
func FuzzApply(f *testing.F) {
	const doc = `realms:
  - name: r
    listeners: [{transport: udp, address: 127.0.0.1:5060}]
    normalization: {inbound: [all]}
normalization:
  all:
    - {action: replace_header, header: X-Tag, pattern: "[0-9]+", replacement: ""}
    - {action: strip_option, header: Supported, option: timer}
    - {action: rewrite_uri, target: ruri_user, pattern: "^0([1-9][0-9]*)$", replacement: "+49$1"}
    - {action: remove_header, header: X-Gone}
    - {action: add_header, header: X-Added, value: yes}
`
	s, err := Parse("fuzz.yaml", []byte(doc))
	if err != nil {
		f.Fatal(err)
	}
	rules := s.Realm("r").Inbound
	f.Add("100rel, timer", "123", "030123")
	f.Add("timer,timer, TIMER ,", "a1b2", "0")
	f.Add(",,", "", "+4930")
	f.Fuzz(func(t *testing.T, supported, tag, user string) {
		m := newFakeMsg()
		m.headers["supported"] = []string{supported}
		m.headers["x-tag"] = []string{tag}
		m.headers["x-gone"] = []string{"x"}
		m.users["ruri_user"] = user
		rules.Apply(m)
		for _, v := range m.headers["supported"] {
			if v == "" && supported != "" {
				t.Fatalf("Supported %q emptied but kept", supported)
			}
			for _, opt := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "timer") {
					t.Fatalf("timer left in %q", v)
				}
			}
		}
		for _, v := range m.headers["x-tag"] {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "0123456789") {
				t.Fatalf("X-Tag value %q", v)
			}
		}
		if len(m.headers["x-gone"]) != 0 || !slices.Equal(m.headers["x-added"], []string{"yes"}) {
			t.Fatalf("remove/add: %v", m.headers)
		}
		if got := m.users["ruri_user"]; got != user && !strings.HasPrefix(got, "+49") {
			t.Fatalf("user %q rewritten to %q", user, got)
		}
	})
}
