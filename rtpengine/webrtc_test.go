package rtpengine

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func chromeOffer(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/chrome156_offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlainSDP(t *testing.T) {
	offer := chromeOffer(t)
	out, err := PlainSDP(offer)
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(out); err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, out)
	}
	md := sd.MediaDescriptions[0]
	if got := strings.Join(md.MediaName.Formats, " "); got != "111 9 0 8 13 126" {
		t.Errorf("formats %q, want RED and 48 kHz telephone-event gone", got)
	}
	for _, gone := range []string{"a=extmap", "a=ssrc:", "a=msid", "a=rtcp-fb", "a=rtcp-rsize", "a=mid:", "a=ice-options",
		"red/48000", "telephone-event/48000", "a=fmtp:63"} {
		if bytes.Contains(out, []byte(gone)) {
			t.Errorf("%s is still there:\n%s", gone, out)
		}
	}
	// Security and ICE stay for the offer/answer rewrite, which replaces them.
	for _, kept := range []string{"a=fingerprint:", "a=setup:actpass", "a=ice-ufrag:", "a=rtcp-mux", "a=rtpmap:0 PCMU/8000", "a=fmtp:111 minptime=10"} {
		if !bytes.Contains(out, []byte(kept)) {
			t.Errorf("%s was removed:\n%s", kept, out)
		}
	}
	if len(out) >= len(offer)*3/4 {
		t.Errorf("%d bytes from %d: not much smaller", len(out), len(offer))
	}
}

func TestPlainSDPKeepsALineWithNothingElse(t *testing.T) {
	in := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 100\r\nc=IN IP4 127.0.0.1\r\na=rtpmap:100 red/48000/2\r\n"
	out, err := PlainSDP([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("m=audio 5000 RTP/AVP 100")) {
		t.Errorf("the only format was removed:\n%s", out)
	}
	if _, err := PlainSDP([]byte("not sdp")); !errors.Is(err, ErrBadSDP) {
		t.Errorf("garbage: %v, want ErrBadSDP", err)
	}
}

func TestBundle(t *testing.T) {
	b, err := OfferBundle(chromeOffer(t))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Grouped || len(b.Mids) != 1 || b.Mids[0] != "0" {
		t.Fatalf("bundle %+v", b)
	}
	answer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=mid:stale\r\n"
	out, err := b.Apply([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("a=group:BUNDLE 0\r\n")) || !bytes.Contains(out, []byte("a=mid:0\r\n")) || bytes.Contains(out, []byte("stale")) {
		t.Errorf("answer:\n%s", out)
	}
	// Two accepted lines on two ports cannot form a group: mids only.
	two := Bundle{Mids: []string{"a", "v"}, Grouped: true}
	out, err = two.Apply([]byte(answer + "m=video 30002 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("a=group")) || !bytes.Contains(out, []byte("a=mid:v")) {
		t.Errorf("two lines:\n%s", out)
	}
	out, err = NumberedBundle([]byte(answer))
	if err != nil || !bytes.Contains(out, []byte("a=group:BUNDLE 0")) {
		t.Errorf("numbered: %v\n%s", err, out)
	}
}

func FuzzPlainSDP(f *testing.F) {
	f.Add(chromeOffer(f))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := PlainSDP(b)
		if err != nil {
			return
		}
		if _, err := PlainSDP(out); err != nil {
			t.Fatalf("PlainSDP output does not parse again: %v", err)
		}
		if bd, err := OfferBundle(b); err == nil {
			_, _ = bd.Apply(out)
		}
	})
}

func BenchmarkPlainSDP(b *testing.B) {
	offer := chromeOffer(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(offer)))
	for b.Loop() {
		if _, err := PlainSDP(offer); err != nil {
			b.Fatal(err)
		}
	}
}

// TestICERestart: a browser's re-offer with a new ice-ufrag is an ICE
// restart, and sbcd's answer must carry fresh credentials; a re-offer with
// the same ufrag (hold, codec change) keeps them.
func TestICERestart(t *testing.T) {
	e := newTestEngine(t, 42260, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	ctx := context.Background()
	browser := func(ufrag string) []byte {
		return peerSDP(a.addr.Port(), "sendrecv", "a=ice-ufrag:"+ufrag, "a=ice-pwd:0123456789012345678901", "a=rtcp-mux")
	}
	exchange := func(ufrag string) (string, string) {
		t.Helper()
		if _, err := e.Offer(ctx, OfferRequest{CallID: "restart", FromTag: "a", ToTag: "b", SDP: browser(ufrag),
			Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/AVP"}}); err != nil {
			t.Fatal(err)
		}
		ans, err := e.Answer(ctx, AnswerRequest{CallID: "restart", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv"),
			Flags: Flags{FromInterface: "access", ToInterface: "core", ICE: "force", RTCPMux: "accept"}})
		if err != nil {
			t.Fatal(err)
		}
		return sdpLine(ans, "ice-ufrag"), sdpLine(ans, "ice-pwd")
	}
	u1, p1 := exchange("aaaa")
	if u1 == "" || p1 == "" {
		t.Fatal("no ICE-lite credentials in the answer")
	}
	if u2, p2 := exchange("aaaa"); u2 != u1 || p2 != p1 {
		t.Errorf("same ufrag re-offer changed our credentials: %s/%s -> %s/%s", u1, p1, u2, p2)
	}
	u3, p3 := exchange("bbbb")
	if u3 == u1 || p3 == p1 || u3 == "" {
		t.Errorf("ICE restart kept our credentials %s/%s", u3, p3)
	}
	if u4, _ := exchange("bbbb"); u4 != u3 {
		t.Errorf("credentials changed again without a restart")
	}
}
