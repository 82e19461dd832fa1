package guard

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

const invite = "INVITE sip:bob@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@example.com>\r\n" +
	"From: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"User-Agent: testphone/1.0\r\n" +
	"Contact: <sip:alice@192.0.2.1>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: %d\r\n\r\n%s"

const sdp = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"

func msg(body string) []byte { return fmt.Appendf(nil, invite, len(body), body) }

func testPolicy(t testing.TB, extra string) *policy.Set {
	t.Helper()
	doc := `realms:
  - name: access
    listeners: [{transport: udp, address: 127.0.0.1:5060}]
` + extra
	s, err := policy.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var src = netip.MustParseAddrPort("192.0.2.1:5060")

func TestScan(t *testing.T) {
	good := string(msg(sdp))
	tests := []struct {
		name   string
		msg    string
		code   int
		reason string
	}{
		{"good", good, 0, ""},
		{"no via", strings.Replace(good, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n", "", 1), 0, ReasonMissingHeader},
		{"two call-ids", strings.Replace(good, "CSeq:", "Call-ID: x\r\nCSeq:", 1), 400, ReasonDuplicateHeader},
		{"cseq method", strings.Replace(good, "314159 INVITE", "314159 OPTIONS", 1), 400, ReasonCSeqMethod},
		{"content-length lie", strings.Replace(good, fmt.Sprintf("Content-Length: %d", len(sdp)), "Content-Length: 5000", 1), 400, ReasonBadContentLength},
		{"negative content-length", strings.Replace(good, fmt.Sprintf("Content-Length: %d", len(sdp)), "Content-Length: -5", 1), 400, ReasonBadContentLength},
		{"max-forwards", strings.Replace(good, "Max-Forwards: 70", "Max-Forwards: 300", 1), 400, ReasonBadMaxForwards},
		{"bare cookie branch", strings.Replace(good, "z9hG4bK776asdhds", "z9hG4bK", 1), 400, ReasonBadBranch},
		{"version", strings.Replace(good, "example.com SIP/2.0", "example.com SIP/7.0", 1), 505, ReasonBadVersion},
		{"nul", strings.Replace(good, "testphone", "test\x00phone", 1), 400, ReasonNUL},
		{"utf8", strings.Replace(good, "testphone", "test\xff\xfephone", 1), 400, ReasonBadUTF8},
		{"many via", strings.Replace(good, "Max-Forwards", strings.Repeat("Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n", 10)+"Max-Forwards", 1), 400, ReasonTooManyVia},
		{"many headers", strings.Replace(good, "Max-Forwards", strings.Repeat("X-A: b\r\n", 100)+"Max-Forwards", 1), 400, ReasonTooManyHeaders},
		{"long header", strings.Replace(good, "testphone", strings.Repeat("a", 3000), 1), 400, ReasonHeaderTooLong},
		{"too large", good + strings.Repeat("x", 20000), 513, ReasonTooLarge},
		{"garbage", "hello\r\n", 0, ReasonBadStartLine},
	}
	lim := &Limits{MaxMessage: 16384, MaxHeaders: 64, MaxHeaderLine: 2048, MaxBody: 8192, MaxVia: 8, MaxForwards: 255, MaxSDPMedia: 8}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Msg
			p := Scan([]byte(tt.msg), lim, false, &m)
			if p.Reason != tt.reason || (tt.code != 0 && p.Code != tt.code) {
				t.Fatalf("got %+v, want %d %q", p, tt.code, tt.reason)
			}
		})
	}
}

func TestScanFindsUsers(t *testing.T) {
	b := msg(sdp)
	var m Msg
	lim := &Limits{MaxMessage: 16384, MaxHeaders: 64, MaxHeaderLine: 2048, MaxBody: 8192, MaxVia: 8, MaxForwards: 255, MaxSDPMedia: 8}
	if p := Scan(b, lim, false, &m); p.Refused() {
		t.Fatal(p)
	}
	if got := string(m.RURIUser(b)); got != "bob" {
		t.Errorf("R-URI user %q", got)
	}
	if got := string(m.FromUser(b)); got != "alice" {
		t.Errorf("From user %q", got)
	}
	if got := string(m.UserAgent(b)); strings.TrimSpace(got) != "testphone/1.0" {
		t.Errorf("User-Agent %q", got)
	}
	if m.ToTag {
		t.Error("To has no tag")
	}
}

func TestSDPSanity(t *testing.T) {
	g := New(testPolicy(t, ""), Options{Logger: quiet})
	tests := []struct {
		name string
		sdp  string
		ok   bool
	}{
		{"good", sdp, true},
		{"port", strings.Replace(sdp, "49170", "99999999", 1), false},
		{"no version", strings.Replace(sdp, "v=0", "x", 1), false},
		{"bad line", sdp + "garbage\r\n", false},
		{"many media", sdp + strings.Repeat("m=audio 1 RTP/AVP 0\r\n", 20), false},
		{"bad c", strings.Replace(sdp, "c=IN IP4", "c=XX IP9", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Msg
			v := g.Inspect("access", src, false, msg(tt.sdp), &m)
			if (v.Stage == "") != tt.ok {
				t.Fatalf("verdict %+v", v)
			}
		})
	}
}

func TestACL(t *testing.T) {
	set := testPolicy(t, `    security:
      acl: {allow: [192.0.2.0/24, "2001:db8::/32"], deny: [192.0.2.66], action: reject}
  - name: core
    listeners: [{transport: udp, address: 127.0.0.2:5080}]
    security: {trunks_only: true}
trunks:
  - name: pbx
    realm: core
    gateways: [{address: 198.51.100.1:5060}]
    security: {acl: {allow: [203.0.113.0/28], deny: [203.0.113.5]}}
`)
	g := New(set, Options{Logger: quiet})
	tests := []struct {
		realm, src string
		stage      string
		code       int
	}{
		{"access", "192.0.2.10:5060", "", 0},
		{"access", "[2001:db8::1]:5060", "", 0},
		{"access", "192.0.2.66:5060", StageACL, 403},
		{"access", "10.0.0.1:5060", StageACL, 403},
		{"core", "198.51.100.1:5060", "", 0},
		{"core", "203.0.113.3:5060", "", 0},
		{"core", "203.0.113.5:5060", StageACL, 0},
		{"core", "10.0.0.1:5060", StageACL, 0},
	}
	for _, tt := range tests {
		t.Run(tt.realm+"/"+tt.src, func(t *testing.T) {
			var m Msg
			v := g.Inspect(tt.realm, netip.MustParseAddrPort(tt.src), false, msg(sdp), &m)
			if v.Stage != tt.stage || v.Code != tt.code {
				t.Fatalf("verdict %+v, want %s %d", v, tt.stage, tt.code)
			}
		})
	}
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRateLimitSeparatesInDialog(t *testing.T) {
	set := testPolicy(t, `    security:
      rate_limit:
        source: {calls: 5, in_dialog: 50, burst: 1}
        action: reject
`)
	c := &clock{t: time.Unix(1000, 0)}
	g := New(set, Options{Now: c.now, Logger: quiet})
	var m Msg
	passed := 0
	for range 20 {
		if v := g.Inspect("access", src, false, msg(sdp), &m); v.Stage == "" {
			passed++
		} else if v.Stage != StageRateLimit || v.Code != 503 {
			t.Fatalf("verdict %+v", v)
		}
	}
	if passed != 5 {
		t.Fatalf("%d INVITEs passed, want 5 (burst 1s of 5/s)", passed)
	}
	bye := strings.Replace(strings.Replace(string(msg("")), "INVITE sip", "BYE sip", 1), "314159 INVITE", "314160 BYE", 1)
	bye = strings.Replace(bye, "To: Bob <sip:bob@example.com>", "To: Bob <sip:bob@example.com>;tag=x", 1)
	if v := g.Inspect("access", src, false, []byte(bye), &m); v.Stage != "" {
		t.Fatalf("in-dialog BYE refused during an INVITE flood: %+v", v)
	}
	c.t = c.t.Add(time.Second)
	if v := g.Inspect("access", src, false, msg(sdp), &m); v.Stage != "" {
		t.Fatalf("bucket did not refill: %+v", v)
	}
}

func TestRateViolationsBlacklist(t *testing.T) {
	set := testPolicy(t, "    security: {rate_limit: {source: {requests: 1, burst: 1}}}\nsecurity:\n  blacklist: {rate_violations: 3}\n")
	g := New(set, Options{Logger: quiet})
	var m Msg
	stages := []string{}
	for range 6 {
		stages = append(stages, g.Inspect("access", src, false, msg(sdp), &m).Stage)
	}
	want := []string{"", StageRateLimit, StageRateLimit, StageRateLimit, StageBlacklist, StageBlacklist}
	if fmt.Sprint(stages) != fmt.Sprint(want) {
		t.Fatalf("stages %q, want %q", stages, want)
	}
	if l := g.Blacklist(); len(l) != 1 || l[0].Reason != ReasonRateExceeded {
		t.Fatalf("blacklist %+v", l)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func TestScannerUserAgent(t *testing.T) {
	var blocked []Entry
	g := New(testPolicy(t, ""), Options{Logger: quiet, OnBlock: func(e Entry) { blocked = append(blocked, e) }})
	b := []byte(strings.Replace(string(msg(sdp)), "testphone/1.0", "friendly-scanner", 1))
	var m Msg
	if v := g.Inspect("access", src, false, b, &m); v.Stage != StageScanner || v.Code != 0 {
		t.Fatalf("verdict %+v", v)
	}
	if v := g.Inspect("access", src, false, msg(sdp), &m); v.Stage != StageBlacklist {
		t.Fatalf("blacklisted source passed: %+v", v)
	}
	if len(blocked) != 1 || blocked[0].Reason != ReasonUserAgent || blocked[0].Address != src.Addr() {
		t.Fatalf("OnBlock saw %+v", blocked)
	}
}

func TestScannerDistinctUsers(t *testing.T) {
	g := New(testPolicy(t, "security:\n  scanner: {distinct_users: 5}\n"), Options{Logger: quiet})
	var m Msg
	for i := range 10 {
		b := []byte(strings.NewReplacer("INVITE sip:bob@example.com SIP", fmt.Sprintf("OPTIONS sip:%d@example.com SIP", 100+i),
			"314159 INVITE", "314159 OPTIONS").Replace(string(msg(""))))
		v := g.Inspect("access", src, false, b, &m)
		if i < 4 && v.Stage != "" {
			t.Fatalf("request %d refused: %+v", i, v)
		}
		if i == 4 && v.Stage != StageScanner {
			t.Fatalf("5th distinct user passed: %+v", v)
		}
	}
	if !g.Blocked(src.Addr()) {
		t.Fatal("scanner not blacklisted")
	}
	// INVITEs to many numbers are not a scan.
	other := netip.MustParseAddrPort("192.0.2.99:5060")
	for i := range 10 {
		b := []byte(strings.Replace(string(msg(sdp)), "sip:bob@example.com SIP", fmt.Sprintf("sip:%d@example.com SIP", 100+i), 1))
		if v := g.Inspect("access", other, false, b, &m); v.Stage != "" {
			t.Fatalf("INVITE %d refused: %+v", i, v)
		}
	}
}

func TestTrunksAreNotScanners(t *testing.T) {
	set := testPolicy(t, `security: {scanner: {unknown_users: 2}, blacklist: {rate_violations: 3}}
trunks:
  - name: pbx
    realm: access
    gateways: [{address: 198.51.100.1:5060}]
    security: {rate_limit: {calls: 1, burst: 1}}
`)
	g := New(set, Options{Logger: quiet})
	gw := netip.MustParseAddr("198.51.100.1")
	for i := range 5 {
		g.Sent("access", gw, fmt.Appendf(nil, "SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\nTo: <sip:%d@h>;tag=1\r\nCSeq: 1 INVITE\r\n\r\n", i))
	}
	var m Msg
	b := []byte(strings.Replace(string(msg(sdp)), "testphone/1.0", "friendly-scanner", 1))
	if v := g.Inspect("access", netip.AddrPortFrom(gw, 5060), false, b, &m); v.Stage != "" || g.Blocked(gw) {
		t.Fatalf("trunk gateway judged as a scanner: %+v", v)
	}
	for range 10 {
		if v := g.Inspect("access", netip.AddrPortFrom(gw, 5060), false, msg(sdp), &m); v.Stage != StageRateLimit || v.Reason != ReasonTrunk {
			t.Fatalf("INVITE over the trunk's budget: %+v", v)
		}
	}
	if g.Blocked(gw) {
		t.Fatal("trunk gateway blacklisted for rate violations")
	}
}

func TestUnknownUsersAndAuthFailures(t *testing.T) {
	g := New(testPolicy(t, "security:\n  scanner: {unknown_users: 3}\n  blacklist: {auth_failures: 2}\n"), Options{Logger: quiet})
	a := netip.MustParseAddr("192.0.2.7")
	for i := range 3 {
		g.Sent("access", a, fmt.Appendf(nil, "SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP x;branch=z9hG4bK1\r\nTo: <sip:%d@h>;tag=1\r\nCSeq: 1 REGISTER\r\n\r\n", i))
	}
	if !g.Blocked(a) {
		t.Fatal("3 unknown users did not blacklist")
	}
	b := netip.MustParseAddr("2001:db8::9")
	if g.ReportAuthFailure(b) || !g.ReportAuthFailure(b) || !g.Blocked(b) {
		t.Fatal("2 auth failures did not blacklist")
	}
}

func TestManualBlacklist(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	g := New(testPolicy(t, ""), Options{Now: c.now, Logger: quiet})
	a := netip.MustParseAddr("192.0.2.9")
	if _, err := g.Block(a, time.Minute); err != nil {
		t.Fatal(err)
	}
	if l := g.Blacklist(); len(l) != 1 || l[0].Reason != ReasonManual || !l[0].Expires.Equal(c.t.Add(time.Minute).UTC()) {
		t.Fatalf("list %+v", l)
	}
	c.t = c.t.Add(61 * time.Second)
	if g.Blocked(a) {
		t.Fatal("block did not expire")
	}
	if _, err := g.Block(a, 0); err != nil || !g.Blocked(a) {
		t.Fatal("permanent block failed")
	}
	if err := g.Unblock(a); err != nil || g.Blocked(a) {
		t.Fatal("unblock failed")
	}
	if err := g.Unblock(a); err == nil {
		t.Fatal("unblocking an unlisted address succeeded")
	}
	if _, err := g.Block(netip.Addr{}, 0); err == nil {
		t.Fatal("blocked an invalid address")
	}
}

func TestLimiterBoundedMemory(t *testing.T) {
	l := newLimiter(shards * 16)
	for i := range 100000 {
		l.allow(uint64(i), 1, 1, int64(i))
	}
	if n := l.size(); n > shards*16 {
		t.Fatalf("%d buckets kept, bound %d", n, shards*16)
	}
}

func TestReplyCopiesTopViaOnly(t *testing.T) {
	b := []byte(strings.Replace(string(msg(sdp)), "Max-Forwards", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKsecond\r\nMax-Forwards", 1))
	var m Msg
	lim := &Limits{MaxMessage: 16384, MaxHeaders: 64, MaxHeaderLine: 2048, MaxBody: 8192, MaxVia: 8, MaxForwards: 255, MaxSDPMedia: 8}
	Scan(b, lim, false, &m)
	r := string(Reply(nil, b, &m, 400))
	if !strings.HasPrefix(r, "SIP/2.0 400 Bad Request\r\n") || strings.Contains(r, "10.0.0.1") || !strings.Contains(r, ";tag=") || !strings.Contains(r, "CSeq: 314159 INVITE") {
		t.Fatalf("reply:\n%s", r)
	}
}

func BenchmarkInspect(b *testing.B) {
	set := testPolicy(b, `    emergency: ["911", "112"]
    security:
      acl: {allow: [192.0.2.0/24]}
      rate_limit: {source: {requests: 1000000, calls: 1000000}, realm: {requests: 1000000}}
`)
	g := New(set, Options{Logger: quiet})
	msgb := msg(sdp)
	b.Run("stages", func(b *testing.B) {
		// The chain without the final trial parse.
		r := g.rules.Load()
		b.ReportAllocs()
		b.SetBytes(int64(len(msgb)))
		var m Msg
		now := time.Now().UnixNano()
		rr := r.realms["access"]
		for b.Loop() {
			if _, blocked := g.bl.lookup(src.Addr(), now); blocked {
				b.Fatal("blocked")
			}
			tr, p := r.acl(rr, src)
			if p.Refused() {
				b.Fatal(p)
			}
			if p := Scan(msgb, &r.lim, false, &m); p.Refused() {
				b.Fatal(p)
			}
			if !checkSDP(msgb[m.BodyStart:], 8) {
				b.Fatal("sdp")
			}
			if rr.isEmergency(&m, msgb) {
				b.Fatal("emergency")
			}
			if v := g.rateStage(r, rr, tr, src, &m, msgb, now); v.Stage != "" {
				b.Fatal(v)
			}
			if v := g.scanner(r, "access", src.Addr(), &m, msgb, now); v.Stage != "" {
				b.Fatal(v)
			}
		}
	})
	b.Run("with-parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msgb)))
		var m Msg
		for b.Loop() {
			if v := g.Inspect("access", src, false, msgb, &m); v.Stage != "" {
				b.Fatal(v)
			}
		}
	})
}

func FuzzInspect(f *testing.F) {
	f.Add(msg(sdp))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nContent-Length: -1\r\n\r\n"))
	f.Add([]byte("INVITE <sip:a@b> SIP/2.0\r\n\r\n"))
	set := testPolicy(f, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		g := New(set, Options{Logger: quiet})
		var m Msg
		v := g.Inspect("access", src, false, b, &m)
		if v.Stage != "" && v.Code != 0 {
			_ = Reply(nil, b, &m, v.Code)
		}
		_ = g.Inspect("access", src, true, b, &m)
		_, _ = contentLength(b)
		_ = checkSDP(b, 8)
	})
}

// discardConn is a connection whose writes vanish (the framer's answers).
type discardConn struct{ pipeConn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }

func FuzzStreamFrame(f *testing.F) {
	f.Add(msg(sdp))
	f.Add(append(msg(sdp), msg("")...))
	f.Add([]byte("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nab"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n"))
	set := testPolicy(f, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		g := New(set, Options{Logger: quiet})
		c := &streamConn{Conn: discardConn{}, g: g, realm: "access", src: src}
		c.in = append(c.in, b...)
		_ = c.frame()
		if len(c.out) > len(b)+64*len(b)/100+128 {
			t.Fatalf("framer produced %d bytes from %d", len(c.out), len(b))
		}
	})
}

func TestRealmAndAccountLimits(t *testing.T) {
	set := testPolicy(t, `    security:
      rate_limit:
        realm: {requests: 6, burst: 1}
        account: {calls: 2, burst: 1}
`)
	c := &clock{t: time.Unix(1000, 0)}
	g := New(set, Options{Now: c.now, Logger: quiet})
	var m Msg
	from := func(user string, i int) []byte {
		return []byte(strings.Replace(string(msg(sdp)), "sip:alice@example.com", fmt.Sprintf("sip:%s@example.com", user), 1))
	}
	// alice's account allows 2 calls a second, from any source.
	var stages []string
	for i := range 3 {
		s := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), 5060)
		stages = append(stages, g.Inspect("access", s, false, from("alice", i), &m).Reason)
	}
	if fmt.Sprint(stages) != fmt.Sprint([]string{"", "", ReasonAccount}) {
		t.Fatalf("alice: %q", stages)
	}
	// The realm allows 6 requests a second in all (alice's 3 took 3).
	stages = stages[:0]
	for i := range 4 {
		stages = append(stages, g.Inspect("access", src, false, from(fmt.Sprintf("u%d", i), i), &m).Reason)
	}
	if fmt.Sprint(stages) != fmt.Sprint([]string{"", "", "", ReasonRealm}) {
		t.Fatalf("realm: %q", stages)
	}
}
