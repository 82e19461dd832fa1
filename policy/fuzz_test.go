package policy

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
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
