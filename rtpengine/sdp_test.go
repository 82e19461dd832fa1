package rtpengine

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestSDPGolden(t *testing.T) {
	ctx := context.Background()
	core := netip.MustParseAddr("203.0.113.5")
	t.Run("basic offer and answer", func(t *testing.T) {
		e := newTestEngine(t, 41100, core, nil)
		out, err := e.Offer(ctx, OfferRequest{CallID: "c1", FromTag: "a", SDP: readFile(t, "basic.offer.sdp"),
			Flags: Flags{FromInterface: "access", ToInterface: "core"}})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "basic.offer.out.sdp", out)
		ans, err := e.Answer(ctx, AnswerRequest{CallID: "c1", FromTag: "a", ToTag: "b", SDP: readFile(t, "basic.answer.sdp")})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "basic.answer.out.sdp", ans)
	})
	t.Run("multi stream, codec filter, replace origin", func(t *testing.T) {
		e := newTestEngine(t, 41140, core, nil)
		out, err := e.Offer(ctx, OfferRequest{CallID: "c2", FromTag: "a", SDP: readFile(t, "multi.offer.sdp"),
			Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"OPUS", "pcmu", "VP8"},
				ReplaceOrigin: true, TransportProtocol: "RTP/AVPF"}})
		if err != nil {
			t.Fatal(err)
		}
		// The session id is ours and time based: normalise it.
		out = normaliseOrigin(out)
		golden(t, "multi.offer.out.sdp", out)
	})
	t.Run("ipv6 peer, inactive, demux", func(t *testing.T) {
		e := newTestEngine(t, 41180, netip.Addr{}, nil)
		out, err := e.Offer(ctx, OfferRequest{CallID: "c3", FromTag: "a", SDP: readFile(t, "ipv6inactive.offer.sdp"),
			Flags: Flags{RTCPMux: "demux", ReplaceSessionConnection: true}})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "ipv6inactive.offer.out.sdp", out)
	})
}

func normaliseOrigin(b []byte) []byte {
	lines := strings.Split(string(b), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "o=") {
			f := strings.Fields(l)
			f[1] = "SESSID"
			lines[i] = strings.Join(f, " ")
		}
	}
	return []byte(strings.Join(lines, "\r\n"))
}

func TestSDPOriginVersion(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 41220, netip.Addr{}, nil)
	offer := readFile(t, "basic.offer.sdp")
	version := func(b []byte) string {
		for _, l := range strings.Split(string(b), "\r\n") {
			if strings.HasPrefix(l, "o=") {
				return strings.Fields(l)[2]
			}
		}
		t.Fatal("no o= line")
		return ""
	}
	o1, err := e.Offer(ctx, OfferRequest{CallID: "v", FromTag: "a", SDP: offer})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := e.Offer(ctx, OfferRequest{CallID: "v", FromTag: "a", SDP: offer})
	if err != nil {
		t.Fatal(err)
	}
	if version(o1) != version(o2) || !bytes.Equal(o1, o2) {
		t.Fatalf("unchanged re-offer changed the SDP:\n%s\n%s", o1, o2)
	}
	hold := bytes.Replace(offer, []byte("a=sendrecv"), []byte("a=sendonly"), 1)
	o3, err := e.Offer(ctx, OfferRequest{CallID: "v", FromTag: "a", SDP: hold})
	if err != nil {
		t.Fatal(err)
	}
	if version(o3) == version(o2) {
		t.Fatalf("changed SDP kept version %s", version(o3))
	}
	if !bytes.Contains(o3, []byte("a=sendonly")) {
		t.Fatalf("hold direction not passed through:\n%s", o3)
	}
}

func TestSDPForceICE(t *testing.T) {
	e := newTestEngine(t, 41240, netip.Addr{}, nil)
	out, err := e.Offer(context.Background(), OfferRequest{CallID: "i", FromTag: "a",
		SDP: readFile(t, "basic.offer.sdp"), Flags: Flags{ICE: "force", ToInterface: "core"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"a=ice-lite", "a=ice-ufrag:", "a=ice-pwd:", "typ host", "a=end-of-candidates", "127.0.0.1 41260 typ host"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "F7gI") || strings.Contains(s, "192.0.2.10 49170") {
		t.Errorf("peer's ICE leaked:\n%s", s)
	}
}

func TestSDPErrors(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 41280, netip.Addr{}, nil)
	good := readFile(t, "basic.offer.sdp")
	for _, tt := range []struct {
		name  string
		sdp   []byte
		flags Flags
		want  error
	}{
		{"empty", nil, Flags{}, ErrBadSDP},
		{"garbage", []byte("hello world"), Flags{}, ErrBadSDP},
		{"no connection", []byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\n"), Flags{}, ErrBadSDP},
		{"hostname address", bytes.Replace(good, []byte("c=IN IP4 192.0.2.10"), []byte("c=IN IP4 example.com"), 1), Flags{}, ErrBadSDP},
		{"bad rtcp", bytes.Replace(good, []byte("a=rtcp:49171"), []byte("a=rtcp:x"), 1), Flags{}, ErrBadSDP},
		{"bad rtpmap", bytes.Replace(good, []byte("a=rtpmap:8 PCMA/8000"), []byte("a=rtpmap:8 PCMA"), 1), Flags{}, ErrBadSDP},
		{"port out of range", bytes.Replace(good, []byte("m=audio 49170"), []byte("m=audio 99999"), 1), Flags{}, ErrBadSDP},
		{"unknown interface", good, Flags{ToInterface: "nope"}, ErrUnknownInterface},
		{"bad ice flag", good, Flags{ICE: "maybe"}, ErrBadFlags},
		{"bad mux flag", good, Flags{RTCPMux: "x"}, ErrBadFlags},
		{"bad transport", good, Flags{TransportProtocol: "TCP/MSRP"}, ErrBadFlags},
		{"no codec left", good, Flags{Codecs: []string{"G729"}}, ErrNoCodec}, // (opus would be transcoded)
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Offer(ctx, OfferRequest{CallID: "err-" + tt.name, FromTag: "a", SDP: tt.sdp, Flags: tt.flags})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	if ids := e.List(0); len(ids) != 0 {
		t.Fatalf("failed offers left calls behind: %v", ids)
	}
	if n := e.pools["access"].inUse() + e.pools["core"].inUse(); n != 0 {
		t.Fatalf("failed offers left %d ports allocated", n)
	}
	if _, err := e.Answer(ctx, AnswerRequest{CallID: "none", FromTag: "a", ToTag: "b", SDP: good}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("answer to unknown call: %v", err)
	}
}

// TestAnswerTrimmedToOffer: a callee answering with codecs it was never
// offered (a fixed list) has them removed before the answer reaches the
// offerer; an answer with nothing in common passes unchanged.
func TestAnswerTrimmedToOffer(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 42720, netip.Addr{}, nil)
	offer := []byte("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	if _, err := e.Offer(ctx, OfferRequest{CallID: "trim", FromTag: "a", SDP: offer,
		Flags: Flags{FromInterface: "access", ToInterface: "core"}}); err != nil {
		t.Fatal(err)
	}
	answer := []byte("v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
	got, err := e.Answer(ctx, AnswerRequest{CallID: "trim", FromTag: "a", ToTag: "b", SDP: answer,
		Flags: Flags{FromInterface: "core", ToInterface: "access"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.Contains(s, " RTP/AVP 0 101\r\n") || strings.Contains(s, "PCMA") {
		t.Errorf("answer to the offerer still lists codecs it never offered:\n%s", s)
	}
	if !strings.Contains(s, "a=fmtp:101 0-16") {
		t.Errorf("answer lost the fmtp of a kept codec:\n%s", s)
	}

	if _, err := e.Offer(ctx, OfferRequest{CallID: "none", FromTag: "a", SDP: offer,
		Flags: Flags{FromInterface: "access", ToInterface: "core"}}); err != nil {
		t.Fatal(err)
	}
	alien := []byte("v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
	got, err = e.Answer(ctx, AnswerRequest{CallID: "none", FromTag: "a", ToTag: "b", SDP: alien,
		Flags: Flags{FromInterface: "core", ToInterface: "access"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), " RTP/AVP 8\r\n") {
		t.Errorf("answer with nothing in common was changed:\n%s", got)
	}
}
