package ng

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine"
)

// fakeEngine records requests and returns canned answers.
type fakeEngine struct {
	mu      sync.Mutex
	offers  []rtpengine.OfferRequest
	answers []rtpengine.AnswerRequest
	deletes []string
	calls   atomic.Int64
	err     error
	block   chan struct{} // when set, Offer waits on it
	stats   rtpengine.CallStats
	ids     []string
	panicOn string
}

func (f *fakeEngine) Offer(ctx context.Context, r rtpengine.OfferRequest) ([]byte, error) {
	f.calls.Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.panicOn == "offer" {
		panic("engine bug")
	}
	f.mu.Lock()
	f.offers = append(f.offers, r)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return []byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 40000 RTP/AVP 8\r\n"), nil
}

func (f *fakeEngine) Answer(_ context.Context, r rtpengine.AnswerRequest) ([]byte, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.answers = append(f.answers, r)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return []byte("v=0\r\nm=audio 40002 RTP/AVP 8\r\n"), nil
}

func (f *fakeEngine) Delete(callID, fromTag string) (rtpengine.CallStats, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.deletes = append(f.deletes, callID+"/"+fromTag)
	f.mu.Unlock()
	return f.stats, f.err
}

func (f *fakeEngine) Query(string) (rtpengine.CallStats, error) {
	f.calls.Add(1)
	return f.stats, f.err
}

func (f *fakeEngine) List(max int) []string {
	f.calls.Add(1)
	return f.ids[:min(max, len(f.ids))]
}

// harness runs a Server on an in-memory conn.
type harness struct {
	t    *testing.T
	eng  *fakeEngine
	srv  *Server
	conn *memConn
	done chan error
}

func newHarness(t *testing.T, eng *fakeEngine) *harness {
	t.Helper()
	h := &harness{t: t, eng: eng, srv: NewServer(eng, nil), conn: newMemConn(), done: make(chan error, 1)}
	go func() { h.done <- h.srv.Serve(context.Background(), h.conn) }()
	t.Cleanup(func() {
		_ = h.srv.Close()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return h
}

// do sends "<cookie> <body>" and returns the decoded reply dictionary.
func (h *harness) do(from, cookie string, body []byte) Value {
	h.t.Helper()
	h.conn.send(from, append([]byte(cookie+" "), body...))
	p := h.conn.recv(5 * time.Second)
	if p == nil {
		h.t.Fatalf("no reply to %q", body)
	}
	if p.from.String() != from {
		h.t.Fatalf("reply sent to %s, want %s", p.from, from)
	}
	c, b, ok := bytes.Cut(p.b, []byte(" "))
	if !ok || string(c) != cookie {
		h.t.Fatalf("reply %q does not carry cookie %q", p.b, cookie)
	}
	v, err := Decode(b)
	if err != nil {
		h.t.Fatalf("reply %q: %v", b, err)
	}
	return v
}

func text(t *testing.T, v Value, key string) string {
	t.Helper()
	x, ok := v.Get(key)
	if !ok {
		t.Fatalf("reply %s has no %q", Encode(v), key)
	}
	s, ok := x.Text()
	if !ok {
		t.Fatalf("%q is a %s", key, x.Kind)
	}
	return s
}

func integer(t *testing.T, v Value, path ...string) int64 {
	t.Helper()
	for _, k := range path {
		var ok bool
		if v, ok = v.Get(k); !ok {
			t.Fatalf("no %q on path %v", k, path)
		}
	}
	if v.Kind != KindInt {
		t.Fatalf("%v is a %s", path, v.Kind)
	}
	return v.Int
}

func cmd(kv ...any) []byte {
	d := NewDict(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		switch x := kv[i+1].(type) {
		case string:
			d.Set(kv[i].(string), Str(x))
		case Value:
			d.Set(kv[i].(string), x)
		case int:
			d.Set(kv[i].(string), Int(int64(x)))
		}
	}
	return Encode(d)
}

func strs(ss ...string) Value {
	v := Value{Kind: KindList}
	for _, s := range ss {
		v.List = append(v.List, Str(s))
	}
	return v
}

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\n"

func TestPing(t *testing.T) {
	h := newHarness(t, &fakeEngine{})
	if r := text(t, h.do("c1", "ck1", cmd("command", "ping")), "result"); r != "pong" {
		t.Fatalf("result = %q", r)
	}
}

func TestOfferFlags(t *testing.T) {
	eng := &fakeEngine{}
	h := newHarness(t, eng)
	codec := NewDict(3)
	codec.Set("strip", strs("all"))
	codec.Set("except", strs("PCMA", "opus"))
	codec.Set("offer", strs("PCMA", "G722"))
	resp := h.do("c1", "o1", cmd(
		"command", "offer", "call-id", "cid", "from-tag", "ft", "to-tag", "tt", "sdp", offerSDP,
		"direction", strs("access", "core"),
		"ICE", "remove",
		"transport-protocol", "RTP/SAVPF",
		"rtcp-mux", strs("demux"),
		"replace", strs("origin", "session-connection"),
		"record-call", "yes",
		"codec", codec,
		"received-from", strs("IP4", "127.0.0.2"),
		"flags", strs("trust-address", "SIP-source-address", "symmetric", "asymmetric", "port-latching"),
	))
	if r := text(t, resp, "result"); r != "ok" {
		t.Fatalf("result = %q (%s)", r, Encode(resp))
	}
	if sdp := text(t, resp, "sdp"); !strings.Contains(sdp, "m=audio 40000") {
		t.Fatalf("sdp = %q", sdp)
	}
	if w := text(t, resp, "warning"); !strings.Contains(w, "asymmetric") || strings.Contains(w, "trust-address") {
		t.Fatalf("warning = %q", w)
	}
	if len(eng.offers) != 1 {
		t.Fatalf("offers = %d", len(eng.offers))
	}
	got := eng.offers[0]
	want := rtpengine.OfferRequest{
		CallID: "cid", FromTag: "ft", ToTag: "tt", SDP: []byte(offerSDP),
		Flags: rtpengine.Flags{
			FromInterface: "access", ToInterface: "core", ICE: "remove", TransportProtocol: "RTP/SAVPF",
			RTCPMux: "demux", ReplaceOrigin: true, ReplaceSessionConnection: true, Record: true,
			Codecs: []string{"PCMA", "opus", "G722"},
		},
	}
	if got.CallID != want.CallID || got.FromTag != want.FromTag || got.ToTag != want.ToTag ||
		!bytes.Equal(got.SDP, want.SDP) || !flagsEqual(got.Flags, want.Flags) {
		t.Fatalf("offer = %+v\nwant    %+v", got, want)
	}
}

func flagsEqual(a, b rtpengine.Flags) bool {
	return a.FromInterface == b.FromInterface && a.ToInterface == b.ToInterface && a.ICE == b.ICE &&
		a.TransportProtocol == b.TransportProtocol && a.RTCPMux == b.RTCPMux &&
		a.ReplaceOrigin == b.ReplaceOrigin && a.ReplaceSessionConnection == b.ReplaceSessionConnection &&
		a.Record == b.Record && slices.Equal(a.Codecs, b.Codecs)
}

// TestFlagsListForms covers the spellings Kamailio and rtpengine accept in
// the "flags" list.
func TestFlagsListForms(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  rtpengine.Flags
		warn  string
	}{
		{"replace forms", []string{"replace-origin", "replace-session-connection"},
			rtpengine.Flags{ReplaceOrigin: true, ReplaceSessionConnection: true}, ""},
		{"key=value", []string{"ICE=force", "transport-protocol=UDP/TLS/RTP/SAVPF", "direction=a", "direction=b"},
			rtpengine.Flags{ICE: "force", TransportProtocol: "UDP/TLS/RTP/SAVPF", FromInterface: "a", ToInterface: "b"}, ""},
		{"rtcp-mux and codecs", []string{"rtcp-mux-offer", "codec-strip-all", "codec-except-PCMU", "record-call"},
			rtpengine.Flags{RTCPMux: "offer", Codecs: []string{"PCMU"}, Record: true}, ""},
		{"bare protocol", []string{"RTP/AVP"}, rtpengine.Flags{TransportProtocol: "RTP/AVP"}, ""},
		{"unknown flags warn", []string{"no-such-flag", "strip-extmap"}, rtpengine.Flags{}, "no-such-flag, strip-extmap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn []string
			msg := Value{Kind: KindDict, Dict: []Entry{{Key: []byte("flags"), Value: strs(tt.flags...)}}}
			got, err := parseFlags(msg, &warn)
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			if !flagsEqual(got, tt.want) {
				t.Fatalf("flags = %+v, want %+v", got, tt.want)
			}
			w := strings.Join(warn, ";")
			if (tt.warn == "") != (w == "") || !strings.Contains(w, tt.warn) {
				t.Fatalf("warning = %q, want %q", w, tt.warn)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	eng := &fakeEngine{}
	h := newHarness(t, eng)
	resp := h.do("c1", "a1", cmd("command", "answer", "call-id", "cid", "from-tag", "ft", "to-tag", "tt", "sdp", offerSDP))
	if r := text(t, resp, "result"); r != "ok" {
		t.Fatalf("result = %q", r)
	}
	if len(eng.answers) != 1 || eng.answers[0].ToTag != "tt" || eng.answers[0].FromTag != "ft" {
		t.Fatalf("answers = %+v", eng.answers)
	}
	if _, ok := resp.Get("warning"); ok {
		t.Fatal("warning without ignored flags")
	}
}

func TestErrorReplies(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"unknown command", cmd("command", "frobnicate"), `unknown command "frobnicate"`},
		{"missing command", cmd("call-id", "x"), "missing command"},
		{"command not string", cmd("command", 5), "command must be a string"},
		{"offer without call-id", cmd("command", "offer", "from-tag", "f", "sdp", offerSDP), "missing call-id"},
		{"offer without from-tag", cmd("command", "offer", "call-id", "c", "sdp", offerSDP), "missing from-tag"},
		{"offer without sdp", cmd("command", "offer", "call-id", "c", "from-tag", "f"), "missing sdp"},
		{"offer empty sdp", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", ""), "missing sdp"},
		{"answer without to-tag", cmd("command", "answer", "call-id", "c", "from-tag", "f", "sdp", offerSDP), "missing to-tag"},
		{"delete without call-id", cmd("command", "delete", "from-tag", "f"), "missing call-id"},
		{"query without call-id", cmd("command", "query"), "missing call-id"},
		{"call-id wrong type", cmd("command", "query", "call-id", strs("x")), "call-id must be a string, got list"},
		{"sdp wrong type", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", 3), "sdp must be a string, got integer"},
		{"flags wrong type", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "flags", 1), "flags must be a list"},
		{"flags element wrong type", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "flags", List(Int(1))), "flags[0] must be a string"},
		{"direction of one", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "direction", strs("a")), "direction must list two interfaces"},
		{"bad ICE", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "ICE", "sometimes"), `unsupported ICE value "sometimes"`},
		{"bad protocol", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "transport-protocol", "TCP/MSRP"), "unsupported transport-protocol"},
		{"bad rtcp-mux", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "rtcp-mux", strs("maybe")), "unsupported rtcp-mux"},
		{"codec not dict", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "codec", "PCMA"), "codec must be a dictionary"},
		{"record-call junk", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "record-call", "perhaps"), "record-call must be yes or no"},
		{"list limit type", cmd("command", "list", "limit", "ten"), "limit must be an integer"},
		{"list limit negative", cmd("command", "list", "limit", -1), "limit must not be negative"},
		{"not a dictionary", []byte("l4:pinge"), "command must be a dictionary, got list"},
		{"truncated bencode", []byte("d7:command4:pi"), "malformed bencode: bencode: truncated input"},
		{"huge string length", []byte("d7:command99999999999:pinge"), "malformed bencode: bencode: too large"},
		{"huge length within limit", []byte("d7:command60000:pinge"), "malformed bencode: bencode: truncated input"},
		{"deep nesting", []byte("d1:a" + strings.Repeat("l", 100) + strings.Repeat("e", 101)), "malformed bencode: bencode: nesting too deep"},
		{"trailing garbage", []byte("d7:command4:pingeXYZ"), "malformed bencode: bencode: trailing data"},
		{"empty body", []byte(""), "malformed bencode: bencode: truncated input"},
		{"binary junk", []byte{0xff, 0x00, 0x13}, "malformed bencode: bencode: syntax error"},
	}
	eng := &fakeEngine{}
	h := newHarness(t, eng)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.do("c1", "e"+string(rune('a'+i)), tt.body)
			if r := text(t, resp, "result"); r != "error" {
				t.Fatalf("result = %q", r)
			}
			if reason := text(t, resp, "error-reason"); !strings.HasPrefix(reason, tt.reason) {
				t.Fatalf("error-reason = %q, want prefix %q", reason, tt.reason)
			}
		})
	}
	if n := eng.calls.Load(); n != 0 {
		t.Fatalf("engine called %d times for bad requests", n)
	}
	if st := h.srv.Stats(); st.Errors != uint64(len(tests)) {
		t.Fatalf("Stats.Errors = %d, want %d", st.Errors, len(tests))
	}
}

func TestEngineErrorAndPanic(t *testing.T) {
	eng := &fakeEngine{err: errors.New("no free ports on interface core")}
	h := newHarness(t, eng)
	resp := h.do("c1", "x1", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP))
	if r := text(t, resp, "error-reason"); r != "no free ports on interface core" {
		t.Fatalf("error-reason = %q", r)
	}
	eng.err, eng.panicOn = nil, "offer"
	resp = h.do("c1", "x2", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP))
	if r := text(t, resp, "error-reason"); r != "internal error" {
		t.Fatalf("error-reason = %q", r)
	}
	if h.srv.Stats().Panics != 1 {
		t.Fatalf("Panics = %d", h.srv.Stats().Panics)
	}
	// The server still answers.
	if r := text(t, h.do("c1", "x3", cmd("command", "ping")), "result"); r != "pong" {
		t.Fatalf("after panic: %q", r)
	}
}

func TestDeleteQueryStats(t *testing.T) {
	created := time.Unix(1700000000, 123456000)
	eng := &fakeEngine{stats: rtpengine.CallStats{
		CallID: "cid", Created: created, RFactor: 92.4, MOS: 4.36,
		Legs: []rtpengine.LegStats{
			{Tag: "ft", Interface: "access", Streams: []rtpengine.StreamStats{{
				Media: "audio", Local: netip.MustParseAddrPort("127.0.0.1:40000"), Peer: netip.MustParseAddrPort("127.0.0.2:6000"),
				PacketsIn: 100, BytesIn: 17200, PacketsOut: 98, BytesOut: 16856, Dropped: 2, Lost: 1, Jitter: 3 * time.Millisecond,
				XR: &rtpengine.XRMetrics{LossRate: 12.0 / 256, RFactor: 88, MOSLQ: 4.2, MOSCQ: 4.1, RTT: 40 * time.Millisecond},
			}}},
			{Tag: "tt", Interface: "core", Streams: []rtpengine.StreamStats{{
				Media: "audio", Local: netip.MustParseAddrPort("127.0.0.1:40002"), Peer: netip.MustParseAddrPort("[::1]:7000"),
				PacketsIn: 98, BytesIn: 16856, PacketsOut: 100, BytesOut: 17200,
			}}},
		},
	}}
	h := newHarness(t, eng)
	for _, c := range []string{"query", "delete"} {
		t.Run(c, func(t *testing.T) {
			resp := h.do("c1", "s-"+c, cmd("command", c, "call-id", "cid", "from-tag", "ft"))
			if r := text(t, resp, "result"); r != "ok" {
				t.Fatalf("result %q", r)
			}
			if got := integer(t, resp, "created"); got != 1700000000 {
				t.Fatalf("created = %d", got)
			}
			if got := integer(t, resp, "created_us"); got != 123456 {
				t.Fatalf("created_us = %d", got)
			}
			if got := integer(t, resp, "totals", "RTP", "packets"); got != 198 {
				t.Fatalf("totals RTP packets = %d", got)
			}
			if got := integer(t, resp, "totals", "RTP", "errors"); got != 2 {
				t.Fatalf("totals RTP errors = %d", got)
			}
			if got := integer(t, resp, "MOS"); got != 44 {
				t.Fatalf("MOS = %d", got)
			}
			tags, _ := resp.Get("tags")
			ft, ok := tags.Get("ft")
			if !ok || text(t, ft, "in dialogue with") != "tt" {
				t.Fatalf("tag ft = %s", Encode(ft))
			}
			medias, _ := ft.Get("medias")
			if len(medias.List) != 1 || text(t, medias.List[0], "type") != "audio" {
				t.Fatalf("medias = %s", Encode(medias))
			}
			streams, _ := medias.List[0].Get("streams")
			st := streams.List[0]
			if integer(t, st, "local port") != 40000 || integer(t, st, "stats", "packets") != 100 ||
				integer(t, st, "stats", "bytes") != 17200 || integer(t, st, "sent", "packets") != 98 ||
				integer(t, st, "endpoint", "port") != 6000 || integer(t, st, "stats", "jitter") != 3 {
				t.Fatalf("stream = %s", Encode(st))
			}
			if integer(t, st, "XR", "MOS-LQ") != 42 || integer(t, st, "XR", "loss rate") != 12 || integer(t, st, "XR", "RTT") != 40 {
				t.Fatalf("stream XR = %s", Encode(st))
			}
			if ep, _ := st.Get("endpoint"); text(t, ep, "family") != "IPv4" || text(t, ep, "address") != "127.0.0.2" {
				t.Fatalf("endpoint = %s", Encode(ep))
			}
			tt, _ := tags.Get("tt")
			m2, _ := tt.Get("medias")
			s2, _ := m2.List[0].Get("streams")
			if ep, _ := s2.List[0].Get("endpoint"); text(t, ep, "family") != "IPv6" {
				t.Fatalf("endpoint = %s", Encode(ep))
			}
		})
	}
	if len(eng.deletes) != 1 || eng.deletes[0] != "cid/ft" {
		t.Fatalf("deletes = %v", eng.deletes)
	}
	eng.err = errors.New("call not found")
	resp := h.do("c1", "s-missing", cmd("command", "delete", "call-id", "nope"))
	if r := text(t, resp, "error-reason"); r != "call not found" {
		t.Fatalf("error-reason = %q", r)
	}
	if eng.deletes[1] != "nope/" {
		t.Fatalf("delete without from-tag = %q", eng.deletes[1])
	}
}

func TestList(t *testing.T) {
	eng := &fakeEngine{ids: []string{"a", "b", "c"}}
	h := newHarness(t, eng)
	for _, tt := range []struct {
		limit any
		want  []string
	}{{nil, []string{"a", "b", "c"}}, {2, []string{"a", "b"}}, {0, nil}} {
		body := cmd("command", "list")
		if tt.limit != nil {
			body = cmd("command", "list", "limit", tt.limit)
		}
		resp := h.do("c1", "l"+string(body[len(body)-3]), body)
		calls, _ := resp.Get("calls")
		var got []string
		for _, c := range calls.List {
			got = append(got, string(c.Str))
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("limit %v: calls = %v, want %v", tt.limit, got, tt.want)
		}
	}
}

func TestRetransmissionCache(t *testing.T) {
	eng := &fakeEngine{}
	h := newHarness(t, eng)
	body := cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP)
	h.conn.send("c1", append([]byte("same "), body...))
	first := h.conn.recv(5 * time.Second)
	h.conn.send("c1", append([]byte("same "), body...))
	second := h.conn.recv(5 * time.Second)
	if first == nil || second == nil || !bytes.Equal(first.b, second.b) {
		t.Fatalf("replies differ: %v / %v", first, second)
	}
	if n := eng.calls.Load(); n != 1 {
		t.Fatalf("engine called %d times, want 1", n)
	}
	// Another client may use the same cookie.
	h.do("c2", "same", body)
	if n := eng.calls.Load(); n != 2 {
		t.Fatalf("engine called %d times, want 2", n)
	}
	if st := h.srv.Stats(); st.Retransmits != 1 || st.Replies != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestReplyCacheKeepsExactReplies checks cached replies hold no spare
// capacity beyond the allocator's rounding (the encoder starts at 256
// bytes): they stay in memory for the cache's TTL.
func TestReplyCacheKeepsExactReplies(t *testing.T) {
	h := newHarness(t, &fakeEngine{})
	h.do("c1", "x1", cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP))
	h.do("c1", "x2", cmd("command", "ping"))
	h.srv.cache.mu.Lock()
	defer h.srv.cache.mu.Unlock()
	if len(h.srv.cache.items) != 2 {
		t.Fatalf("%d cached replies, want 2", len(h.srv.cache.items))
	}
	for k, e := range h.srv.cache.items {
		if !e.done || len(e.reply) == 0 {
			t.Fatalf("%q: no reply cached", k)
		}
		if cap(e.reply)-len(e.reply) >= 64 {
			t.Errorf("%q: reply of %d bytes kept with capacity %d", k, len(e.reply), cap(e.reply))
		}
	}
}

func TestRetransmissionWhilePending(t *testing.T) {
	eng := &fakeEngine{block: make(chan struct{})}
	h := newHarness(t, eng)
	body := cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP)
	h.conn.send("c1", append([]byte("slow "), body...))
	// Wait until the engine holds the first copy, then retransmit.
	for i := 0; i < 500 && eng.calls.Load() == 0; i++ {
		time.Sleep(2 * time.Millisecond)
	}
	h.conn.send("c1", append([]byte("slow "), body...))
	for i := 0; i < 500 && h.srv.Stats().Retransmits == 0; i++ {
		time.Sleep(2 * time.Millisecond)
	}
	close(eng.block)
	if p := h.conn.recv(5 * time.Second); p == nil {
		t.Fatal("no reply")
	}
	if p := h.conn.recv(100 * time.Millisecond); p != nil {
		t.Fatalf("second reply %q", p.b)
	}
	if n := eng.calls.Load(); n != 1 {
		t.Fatalf("engine called %d times, want 1", n)
	}
}

func TestDroppedWithoutCookie(t *testing.T) {
	h := newHarness(t, &fakeEngine{})
	for _, b := range []string{"nospace", " d7:command4:pinge", strings.Repeat("x", MaxCookie+1) + " d7:command4:pinge", "\x01\x02 de", ""} {
		h.conn.send("c1", []byte(b))
	}
	// A valid command after the junk is answered, proving the junk was consumed.
	h.do("c1", "ok", cmd("command", "ping"))
	if p := h.conn.recv(50 * time.Millisecond); p != nil {
		t.Fatalf("unexpected reply %q", p.b)
	}
	if st := h.srv.Stats(); st.Dropped != 5 || st.Received != 6 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestServeLifecycle(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := NewServer(&fakeEngine{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	conn := newMemConn()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, conn) }()
	waitServing(t, srv)
	if err := srv.Serve(ctx, newMemConn()); !errors.Is(err, ErrServing) {
		t.Fatalf("second Serve = %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	// The server can serve again until closed.
	go func() { done <- srv.Serve(context.Background(), conn) }()
	waitServing(t, srv)
	for range 3 {
		_ = srv.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	if err := srv.Serve(context.Background(), conn); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
	// A failing conn ends Serve with an error.
	srv2 := NewServer(&fakeEngine{}, nil)
	bad := newMemConn()
	_ = bad.Close()
	if err := srv2.Serve(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "ng: read") {
		t.Fatalf("Serve on closed conn = %v", err)
	}
	for i := 0; i < 200 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

func waitServing(t *testing.T, srv *Server) {
	t.Helper()
	for range 1000 {
		srv.mu.Lock()
		s := srv.serving
		srv.mu.Unlock()
		if s {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("Serve did not start")
}

func TestReplyCacheExpiryAndBound(t *testing.T) {
	c := newReplyCache(30*time.Second, 4)
	t0 := time.Unix(1000, 0)
	if st, _ := c.begin("a", t0); st != cacheNew {
		t.Fatalf("begin a = %v", st)
	}
	if st, _ := c.begin("a", t0); st != cachePending {
		t.Fatalf("begin a again = %v", st)
	}
	c.finish("a", []byte("r"))
	if st, r := c.begin("a", t0.Add(29*time.Second)); st != cacheHit || string(r) != "r" {
		t.Fatalf("begin a cached = %v %q", st, r)
	}
	if st, _ := c.begin("a", t0.Add(31*time.Second)); st != cacheNew {
		t.Fatalf("begin a after ttl = %v", st)
	}
	// A dropped command can be retried.
	c.finish("a", nil)
	if st, _ := c.begin("a", t0.Add(31*time.Second)); st != cacheNew {
		t.Fatalf("begin a after drop = %v", st)
	}
	now := t0.Add(40 * time.Second)
	for i := range 100 {
		c.begin(string(rune('b'+i)), now)
		if c.len() > 4 {
			t.Fatalf("cache holds %d entries, bound 4", c.len())
		}
		if len(c.order) > 3*4 {
			t.Fatalf("order holds %d slots", len(c.order))
		}
	}
}

func FuzzHandle(f *testing.F) {
	f.Add([]byte("d7:command4:pinge"))
	f.Add(cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP, "flags", strs("ICE=force", "rtcp-mux-offer")))
	f.Add(cmd("command", "list", "limit", 5))
	srv := NewServer(&fakeEngine{ids: []string{"a"}}, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp := srv.handleSafe(context.Background(), body)
		r, ok := resp.Get("result")
		if !ok || r.Kind != KindString {
			t.Fatalf("reply without result: %s", Encode(resp))
		}
		if string(r.Str) == "error" {
			if _, ok := resp.Get("error-reason"); !ok {
				t.Fatalf("error without reason: %s", Encode(resp))
			}
		}
		if srv.panics.Load() != 0 {
			t.Fatal("handler panicked")
		}
	})
}

func BenchmarkHandleOffer(b *testing.B) {
	srv := NewServer(&fakeEngine{}, nil)
	body := cmd("command", "offer", "call-id", "c", "from-tag", "f", "sdp", offerSDP,
		"flags", strs("trust-address", "replace-origin", "replace-session-connection"), "ICE", "remove",
		"direction", strs("access", "core"))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp := srv.handle(context.Background(), body)
		if r, _ := resp.Get("result"); string(r.Str) != "ok" {
			b.Fatalf("reply %s", Encode(resp))
		}
	}
}
