package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bad.err from the current output")

func TestCorpusGood(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d good files, want at least 4", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(s.Realms()) == 0 {
				t.Fatal("no realms")
			}
			if len(s.Hash()) != 64 {
				t.Fatalf("hash %q is not sha256 hex", s.Hash())
			}
		})
	}
}

func TestCorpusBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found %d bad files, want at least 15", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			errFile := strings.TrimSuffix(f, ".yaml") + ".err"
			s, err := Load(f)
			if err == nil {
				t.Fatalf("Load succeeded (%d realms), want an error", len(s.Realms()))
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			if *update {
				if err := os.WriteFile(errFile, []byte(err.Error()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(errFile)
			if rerr != nil {
				t.Fatalf("missing expected error file: %v", rerr)
			}
			if got := err.Error(); got != strings.TrimRight(string(want), "\n") {
				t.Errorf("error mismatch\n got: %s\nwant: %s", got, want)
			}
			if len(es) != 1 {
				t.Errorf("bad corpus files hold one problem each; got %d", len(es))
			}
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	const doc = `log:
  level: loud
sip:
  drain_timeout: soon
realms:
  - name: access
    listeners:
      - transport: sctp
        address: 127.0.0.1:5060
        colour: blue
trunks:
  - name: pbx
    realm: nowhere
    gateways:
      - address: pbx.local:5060
routes:
  - name: r1
    trunks: [missing]
  - name: r1
    service: echo
    reject: {code: 486}
`
	_, err := Parse("many.yaml", []byte(doc))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []FieldError{
		{"many.yaml", 2, "log.level", `"loud" is not one of debug, info, warn or error`},
		{"many.yaml", 4, "sip.drain_timeout", `invalid duration "soon": use a number with a unit (ns, us, ms, s, m, h), such as "30s" or "1m30s"`},
		{"many.yaml", 8, "realms[0].listeners[0].transport", `"sctp" is not one of udp, tcp, tls, ws or wss`},
		{"many.yaml", 10, "realms[0].listeners[0].colour", `unknown field "colour"`},
		{"many.yaml", 13, "trunks[0].realm", `unknown realm "nowhere"`},
		{"many.yaml", 15, "trunks[0].gateways[0].address", `"pbx.local:5060" is not an ip:port address with a literal IP (IPv6 as [::1]:5060)`},
		{"many.yaml", 18, "routes[0].trunks[0]", `unknown trunk "missing"`},
		{"many.yaml", 19, "routes[1].name", `duplicate route name "r1" (first used at routes[0].name)`},
		{"many.yaml", 19, "routes[1]", `route has more than one action (service, reject); only registered may be combined with trunks`},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(es), len(want), err)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, es[i], want[i])
		}
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		e    FieldError
		want string
	}{
		{"full", FieldError{"a.yaml", 3, "realms[0].name", "bad"}, "a.yaml:3: realms[0].name: bad"},
		{"no line", FieldError{"a.yaml", 0, "realms", "bad"}, "a.yaml: realms: bad"},
		{"no path", FieldError{"a.yaml", 7, "", "yaml: oops"}, "a.yaml:7: yaml: oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	es := Errors{tests[0].e, tests[2].e}
	if got, want := es.Error(), tests[0].want+"\n"+tests[2].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	checks := []struct {
		name      string
		got, want any
	}{
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"sip.dscp", *c.SIP.DSCP, 24},
		{"sip.drain_timeout", c.SIP.DrainTimeout, 30 * time.Second},
		{"sip.session_expires", c.SIP.SessionExpires, 1800 * time.Second},
		{"sip.invite_timeout", c.SIP.InviteTimeout, 32 * time.Second},
		{"sip.unknown_method", c.SIP.UnknownMethod, 501},
		{"sip.max_forwards", c.SIP.MaxForwards, 70},
		{"media.timeout", c.Media.Timeout, 60 * time.Second},
		{"media.hold_timeout", c.Media.HoldTimeout, time.Hour},
		{"media.port_drain", c.Media.PortDrain, 5 * time.Second},
		{"media.ng", c.Media.NG, ""},
		{"admin.address", c.Admin.Address, ""},
	}
	r := s.Realm("lan")
	if r == nil {
		t.Fatal("realm lan missing")
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"realm advertised", r.Advertised, "127.0.0.1"},
		{"realm advertised_address", r.AdvertisedAddress, "127.0.0.1"},
		{"media address", r.MediaAddr.String(), "127.0.0.1"},
		{"media advertised", r.MediaAdvertised.String(), "127.0.0.1"},
		{"port_min", r.Media.PortMin, 20000},
		{"port_max", r.Media.PortMax, 29999},
		{"media dscp", *r.Media.DSCP, 46},
		{"srtp", r.Media.SRTP, "optional"},
		{"refer", r.Refer, "reject"},
		{"redirect", r.Redirect, "recurse"},
		{"prack", r.PRACK, "terminate"},
		{"registrar", r.Registrar, false},
	}...)
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestGatewayDefaults(t *testing.T) {
	doc := `realms:
  - name: core
    listeners: [{transport: udp, address: 127.0.0.1:5080}]
trunks:
  - name: pbx
    realm: core
    gateways: [{address: 127.0.0.1:5090}]
`
	s, err := Parse("gw.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Trunk("pbx")
	g := tr.Gateways[0]
	if g.Transport != "udp" || g.Priority != 1 || g.Weight != 1 {
		t.Errorf("gateway defaults = %+v, want udp priority 1 weight 1", g)
	}
	for _, code := range []int{408, 480, 500, 502, 503, 504} {
		if !tr.FailsOver(code) {
			t.Errorf("FailsOver(%d) = false, want true by default", code)
		}
	}
	for _, code := range []int{404, 486, 486, 603, 200} {
		if tr.FailsOver(code) {
			t.Errorf("FailsOver(%d) = true, want false by default", code)
		}
	}
	if tr.SRTP != "optional" {
		t.Errorf("trunk SRTP = %q, want the realm's %q", tr.SRTP, "optional")
	}
	if tr.Realm != s.Realm("core") {
		t.Error("trunk realm not linked")
	}
}

func TestTLSFilesResolvedAgainstConfigDir(t *testing.T) {
	s, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := s.Realm("access").Listeners[2]
	if want := filepath.Join("testdata", "tls", "cert.pem"); l.CertFile != want {
		t.Errorf("cert_file = %q, want %q", l.CertFile, want)
	}
	if want := filepath.Join("testdata", "tls", "key.pem"); l.KeyFile != want {
		t.Errorf("key_file = %q, want %q", l.KeyFile, want)
	}
	// The same document parsed as if it lived elsewhere cannot find them.
	data, err := os.ReadFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(filepath.Join(t.TempDir(), "full.yaml"), data)
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 || es[0].Path != "realms[0].listeners[2].cert_file" || es[1].Path != "realms[0].listeners[2].key_file" {
		t.Errorf("want cert_file and key_file errors, got %v", err)
	}
}

func TestHash(t *testing.T) {
	a := []byte("realms: [{name: a, listeners: [{transport: udp, address: 127.0.0.1:5060}]}]\n")
	b := append([]byte("# comment\n"), a...)
	sa, err := Parse("a.yaml", a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Parse("b.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a)
	if sa.Hash() != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash = %s, want sha256 of the bytes", sa.Hash())
	}
	if sa.Hash() == sb.Hash() {
		t.Error("different bytes gave the same hash")
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
	big := make([]byte, MaxFileSize+1)
	if _, err := Parse("big.yaml", big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge input: got %v, want ErrTooLarge", err)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("realms:\n  - name: r\n    allow_headers: *a8\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n")
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("alias bomb accepted")
	}
	if !strings.Contains(err.Error(), "unknown field") && !strings.Contains(err.Error(), "too complex") {
		t.Errorf("unexpected error: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestTooManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("realms:\n  - name: r\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n")
	for i := range 300 {
		b.WriteString("    x" + strings.Repeat("y", i) + ": 1\n")
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v", err)
	}
	if len(es) != maxErrors+1 || es[maxErrors].Msg != "too many problems; stopped after 100" {
		t.Errorf("got %d problems, last %q", len(es), es[len(es)-1].Msg)
	}
}

func TestAliasExpansionBounded(t *testing.T) {
	// 400 aliases to a list of 400 listeners: 160000 listener visits from a
	// few kilobytes.
	var b strings.Builder
	b.WriteString("lst: &l [")
	for i := range 400 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("&x" + strings.Repeat("a", i%3) + string(rune('a'+i%26)) + " {transport: udp, address: 127.0.0.1:5060}")
	}
	b.WriteString("]\nrealms:\n")
	for range 400 {
		b.WriteString("  - {name: r, listeners: *l}\n")
	}
	start := time.Now()
	_, err := Parse("alias.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "document too complex") {
		t.Errorf("got %v, want a too-complex error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDecodeProblems(t *testing.T) {
	const realm = "realms:\n  - name: r\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n"
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"root not a mapping", "- a\n- b\n", `x.yaml:1: expected a mapping, got a list`},
		{"scalar root", "hello\n", `x.yaml:1: expected a mapping, got "hello"`},
		{"no follow-on noise for a bad name", "realms:\n  - name: [r]\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n",
			`x.yaml:2: realms[0].name: expected a string, got a list`},
		{"merge key", realm + "sip:\n  <<: {dscp: 1}\n", `x.yaml:5: sip: merge keys (<<) are not supported`},
		{"integer expected", realm + "sip:\n  max_forwards: many\n", `x.yaml:5: sip.max_forwards: expected an integer, got "many"`},
		{"float is not an integer", realm + "sip:\n  dscp: 1.5\n", `x.yaml:5: sip.dscp: expected an integer, got "1.5"`},
		{"mapping key must be a string", realm + "normalization:\n  [a]: []\n", `x.yaml:5: normalization: mapping key must be a string, got a list`},
		{"negative duration", realm + "media:\n  port_drain: -1s\n", `x.yaml:5: media.port_drain: -1s must not be negative`},
		{"alias resolves", "d: &d 25\n" + realm + "sip:\n  dscp: *d\n  max_forwards: 300\n", `x.yaml:1: d: unknown field "d"` + "\n" +
			`x.yaml:7: sip.max_forwards: 300 is outside 1-255`},
		{"empty rule set", realm + "normalization:\n  none: []\n", `x.yaml:5: normalization.none: rule set has no rules`},
		{"rule field not used by its action", realm + "normalization:\n  s:\n    - {action: remove_header, header: X-A, value: b}\n",
			`x.yaml:6: normalization.s[0].value: value is not used by remove_header`},
		{"source trunk outside source realm", realm + `  - name: core
    listeners: [{transport: udp, address: 127.0.0.1:5080}]
    media: {port_min: 30000, port_max: 30999}
trunks:
  - {name: pbx, realm: core, gateways: [{address: 127.0.0.1:5090}]}
routes:
  - {name: x, match: {source_realm: r, source_trunk: pbx}, service: echo}
`, `x.yaml:10: routes[0].match.source_trunk: trunk "pbx" is in realm "core", not "r": the route could never match`},
		{"shared gateway in one realm", realm + `trunks:
  - {name: a, realm: r, gateways: [{address: 127.0.0.1:5090}]}
  - {name: b, realm: r, gateways: [{address: 127.0.0.1:5090}]}
`, `x.yaml:6: trunks[1].gateways[0].address: 127.0.0.1:5090 is already a gateway at trunks[0].gateways[0] in realm "r"`},
		{"owned header in allow_headers", "realms:\n  - name: r\n    allow_headers: [Call-ID]\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n",
			`x.yaml:3: realms[0].allow_headers[0]: Call-ID is built by sbcd on each leg and cannot be passed through`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}
