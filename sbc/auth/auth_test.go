package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestResponseVectors(t *testing.T) {
	tests := []struct {
		name                                              string
		alg                                               Algorithm
		user, realm, pass, method, uri, nonce, nc, cnonce string
		want                                              string
	}{
		// RFC 2617 section 3.5.
		{"rfc2617-md5", MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
			"dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "6629fae49393a05397450978507c4ef1"},
		// RFC 7616 section 3.9.1 (the same computation RFC 8760 adopts for SIP).
		{"rfc7616-md5", MD5, "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"rfc7616-sha256", SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", "GET", "/dir/index.html",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha1 := HA1(tt.alg, tt.user, tt.realm, tt.pass)
			got := Response(tt.alg, ha1, tt.method, tt.uri, tt.nonce, tt.nc, tt.cnonce, "auth")
			if got != tt.want {
				t.Fatalf("response = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name, in string
		want     Credentials
		err      bool
	}{
		{"sipp", `Digest username="alice",realm="sbc",uri="sip:bob@127.0.0.1:5060",nonce="n1",response="abc",algorithm=MD5,cnonce="c",qop=auth,nc=00000001`,
			Credentials{Username: "alice", Realm: "sbc", URI: "sip:bob@127.0.0.1:5060", Nonce: "n1", Response: "abc", Algorithm: "MD5", CNonce: "c", QOP: "auth", NC: "00000001"}, false},
		{"spaces and escapes", `digest  username = "a\"b" , realm="r", nonce="n", uri="u", response="x", opaque="o", foo=bar`,
			Credentials{Username: `a"b`, Realm: "r", Nonce: "n", URI: "u", Response: "x", Opaque: "o"}, false},
		{"basic", `Basic YWxhZGRpbjpvcGVuc2VzYW1l`, Credentials{}, true},
		{"no username", `Digest realm="r", nonce="n", uri="u", response="x"`, Credentials{}, true},
		{"duplicate", `Digest username="a", username="b", nonce="n", uri="u", response="x"`, Credentials{}, true},
		{"unterminated", `Digest username="a, nonce="n`, Credentials{}, true},
		{"no value", `Digest username`, Credentials{}, true},
		{"too long", "Digest username=\"" + strings.Repeat("a", MaxHeaderLen) + "\"", Credentials{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCredentials(tt.in)
			if tt.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestChallenger(c *clock, algs ...Algorithm) *Challenger {
	return &Challenger{
		Realm: "sbc.example", Algorithms: algs, TTL: time.Minute,
		Users: Store{"alice": {HA1(MD5, "alice", "sbc.example", "s3cret"), HA1(SHA256, "alice", "sbc.example", "s3cret")},
			"md5only": {HA1(MD5, "md5only", "sbc.example", "pw"), ""}},
		Nonces: NewNonces(0, c.now),
	}
}

// answer parses a challenge and builds credentials as a client would.
func answer(t *testing.T, challenge, user, pass, method, uri string, nc int) *Credentials {
	t.Helper()
	// A challenge has the same syntax as credentials minus the response.
	cr, err := ParseCredentials(challenge + `, username="x", uri="x", response="x"`)
	if err != nil {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	alg, err := ParseAlgorithm(cr.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	out := &Credentials{Username: user, Realm: cr.Realm, Nonce: cr.Nonce, URI: uri, Algorithm: cr.Algorithm,
		CNonce: "0a4f113b", QOP: "auth", NC: fmt.Sprintf("%08x", nc)}
	out.Response = Response(alg, HA1(alg, user, cr.Realm, pass), method, uri, out.Nonce, out.NC, out.CNonce, "auth")
	return out
}

func TestVerify(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newTestChallenger(clk)
	ch := c.Challenge(false)
	if len(ch) != 2 || !strings.Contains(ch[0], "algorithm=SHA-256") || !strings.Contains(ch[1], "algorithm=MD5") ||
		!strings.Contains(ch[0], `qop="auth"`) || strings.Contains(ch[0], "stale") {
		t.Fatalf("challenge = %q", ch)
	}
	const uri = "sip:bob@sbc.example"
	tests := []struct {
		name string
		cr   func() *Credentials
		want error
	}{
		{"sha256 ok", func() *Credentials { return answer(t, ch[0], "alice", "s3cret", "INVITE", uri, 1) }, nil},
		{"md5 ok", func() *Credentials { return answer(t, c.Challenge(false)[1], "alice", "s3cret", "REGISTER", uri, 1) }, nil},
		{"wrong password", func() *Credentials { return answer(t, c.Challenge(false)[0], "alice", "guess", "INVITE", uri, 1) }, ErrBadResponse},
		{"unknown user", func() *Credentials { return answer(t, c.Challenge(false)[0], "mallory", "x", "INVITE", uri, 1) }, ErrUnknownUser},
		{"no sha256 hash", func() *Credentials { return answer(t, c.Challenge(false)[0], "md5only", "pw", "INVITE", uri, 1) }, ErrUnknownUser},
		{"wrong method", func() *Credentials {
			cr := answer(t, c.Challenge(false)[0], "alice", "s3cret", "INVITE", uri, 1)
			return &Credentials{Username: cr.Username, Realm: cr.Realm, Nonce: cr.Nonce, URI: cr.URI, Algorithm: cr.Algorithm,
				CNonce: cr.CNonce, QOP: cr.QOP, NC: cr.NC, Response: Response(SHA256, HA1(SHA256, "alice", "sbc.example", "s3cret"), "BYE", uri, cr.Nonce, cr.NC, cr.CNonce, "auth")}
		}, nil},
		{"forged nonce", func() *Credentials {
			cr := answer(t, c.Challenge(false)[0], "alice", "s3cret", "INVITE", uri, 1)
			cr.Nonce = strings.Repeat("A", len(cr.Nonce))
			return cr
		}, ErrNonce},
		{"other realm", func() *Credentials {
			cr := answer(t, c.Challenge(false)[0], "alice", "s3cret", "INVITE", uri, 1)
			cr.Realm = "evil"
			return cr
		}, ErrRealm},
		{"auth-int", func() *Credentials {
			cr := answer(t, c.Challenge(false)[0], "alice", "s3cret", "INVITE", uri, 1)
			cr.QOP = "auth-int"
			return cr
		}, ErrMalformed},
		{"sess algorithm", func() *Credentials {
			cr := answer(t, c.Challenge(false)[0], "alice", "s3cret", "INVITE", uri, 1)
			cr.Algorithm = "MD5-sess"
			return cr
		}, ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := tt.cr()
			method := "INVITE"
			if tt.name == "md5 ok" {
				method = "REGISTER"
			}
			if tt.name == "wrong method" {
				// The response was computed for BYE; verifying as INVITE must fail,
				// as BYE it must pass.
				if err := c.Verify("INVITE", cr); !errors.Is(err, ErrBadResponse) {
					t.Fatalf("as INVITE: %v", err)
				}
				method = "BYE"
			}
			err := c.Verify(method, cr)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplayAndExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newTestChallenger(clk, MD5)
	ch := c.Challenge(false)[0]
	const uri = "sip:bob@sbc.example"
	first := answer(t, ch, "alice", "s3cret", "INVITE", uri, 1)
	if err := c.Verify("INVITE", first); err != nil {
		t.Fatal(err)
	}
	// The very same request again (a captured request replayed).
	if err := c.Verify("INVITE", first); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v, want ErrReplay", err)
	}
	// The client's next request on the same nonce with nc=2 is fine, nc=2 again is not.
	second := answer(t, ch, "alice", "s3cret", "INVITE", uri, 2)
	if err := c.Verify("INVITE", second); err != nil {
		t.Fatalf("nc=2: %v", err)
	}
	if err := c.Verify("INVITE", answer(t, ch, "alice", "s3cret", "INVITE", uri, 2)); !errors.Is(err, ErrReplay) {
		t.Fatalf("nc=2 again: %v", err)
	}
	// Without qop a nonce is single-use.
	noqop := c.Challenge(false)[0]
	cr := answer(t, noqop, "alice", "s3cret", "INVITE", uri, 1)
	cr.QOP, cr.NC, cr.CNonce = "", "", ""
	cr.Response = Response(MD5, HA1(MD5, "alice", "sbc.example", "s3cret"), "INVITE", uri, cr.Nonce, "", "", "")
	if err := c.Verify("INVITE", cr); err != nil {
		t.Fatalf("no qop: %v", err)
	}
	if err := c.Verify("INVITE", cr); !errors.Is(err, ErrReplay) {
		t.Fatalf("no qop again: %v", err)
	}
	// After the TTL a correct response is stale; a wrong one is still wrong.
	late := c.Challenge(false)[0]
	clk.t = clk.t.Add(time.Minute)
	if err := c.Verify("INVITE", answer(t, late, "alice", "s3cret", "INVITE", uri, 1)); !errors.Is(err, ErrStale) {
		t.Fatalf("expired: %v, want ErrStale", err)
	}
	if err := c.Verify("INVITE", answer(t, late, "alice", "nope", "INVITE", uri, 1)); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("expired, wrong password: %v, want ErrBadResponse", err)
	}
	if s := c.Challenge(true)[0]; !strings.HasSuffix(s, "stale=true") {
		t.Fatalf("stale challenge %q", s)
	}
}

func TestNonceTableBound(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newTestChallenger(clk, MD5)
	c.Nonces = NewNonces(2, clk.now)
	const uri = "sip:x@y"
	for i := range 2 {
		if err := c.Verify("REGISTER", answer(t, c.Challenge(false)[0], "alice", "s3cret", "REGISTER", uri, 1)); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	// Full and nothing expired: the client is asked to retry.
	if err := c.Verify("REGISTER", answer(t, c.Challenge(false)[0], "alice", "s3cret", "REGISTER", uri, 1)); !errors.Is(err, ErrStale) {
		t.Fatalf("full table: %v", err)
	}
	// Once the tracked nonces expire, their slots are reclaimed.
	clk.t = clk.t.Add(2 * time.Minute)
	if err := c.Verify("REGISTER", answer(t, c.Challenge(false)[0], "alice", "s3cret", "REGISTER", uri, 1)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := c.Nonces.Tracked(); n != 1 {
		t.Fatalf("tracked = %d, want 1", n)
	}
}

func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="alice",realm="sbc",uri="sip:bob@h",nonce="n",response="r",algorithm=MD5,cnonce="c",qop=auth,nc=00000001`)
	f.Add(`Digest username="a\"b\\", nonce=x, uri=y, response=z`)
	f.Add(`digest ,,,=`)
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := ParseCredentials(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if cr.Username == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" {
			t.Fatalf("accepted without required fields: %+v", cr)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Algorithm{MD5, SHA256} {
		b.Run(alg.String(), func(b *testing.B) {
			clk := &clock{t: time.Unix(1_800_000_000, 0)}
			c := newTestChallenger(clk, alg)
			ch := c.Challenge(false)[0]
			hdrs := make([]string, 0, 1024)
			for i := 1; i <= cap(hdrs); i++ {
				cr := answerB(ch, alg, i)
				hdrs = append(hdrs, cr)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(hdrs) == 0 && i > 0 {
					b.StopTimer()
					ch = c.Challenge(false)[0]
					for j := range hdrs {
						hdrs[j] = answerB(ch, alg, j+1)
					}
					b.StartTimer()
				}
				cr, err := ParseCredentials(hdrs[i%len(hdrs)])
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Verify("INVITE", &cr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// answerB builds an Authorization header value for nonce-count nc.
func answerB(challenge string, alg Algorithm, nc int) string {
	cr, _ := ParseCredentials(challenge + `, username="x", uri="x", response="x"`)
	const uri = "sip:bob@sbc.example"
	ncs := fmt.Sprintf("%08x", nc)
	resp := Response(alg, HA1(alg, "alice", cr.Realm, "s3cret"), "INVITE", uri, cr.Nonce, ncs, "0a4f113b", "auth")
	return fmt.Sprintf(`Digest username="alice", realm=%q, nonce=%q, uri=%q, response=%q, algorithm=%s, cnonce="0a4f113b", qop=auth, nc=%s`,
		cr.Realm, cr.Nonce, uri, resp, alg, ncs)
}
