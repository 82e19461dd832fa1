package rtpengine

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
)

func originOf(sdp []byte) []string {
	for _, l := range strings.Split(string(sdp), "\r\n") {
		if strings.HasPrefix(l, "o=") {
			return strings.Fields(l)
		}
	}
	return nil
}

// goertzelShare is the share of pcm's energy at freq.
func goertzelShare(pcm []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / 8000
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range pcm {
		x := float64(v)
		s1, s2 = x+coeff*s1-s2, s1
		total += x * x
	}
	if total == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) * 2 / (float64(len(pcm)) * total)
}

// TestPlayRelayedCall plays ringback to the offerer of a relayed call
// before the answer: from the endpoint the answer will use, with the
// monologue's o= line, and stops it on StopPlay.
func TestPlayRelayedCall(t *testing.T) {
	e := newTestEngine(t, 42840, netip.Addr{}, nil)
	pa, pb := newPeer(t), newPeer(t)
	ctx := context.Background()
	offer := xcodeSDP(pa.addr.Port(), "8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000")
	if _, err := e.Offer(ctx, OfferRequest{CallID: "p", FromTag: "A", SDP: offer,
		Flags: Flags{FromInterface: "access", ToInterface: "core", ReplaceOrigin: true}}); err != nil {
		t.Fatal(err)
	}
	early, length, err := e.Play(ctx, PlayRequest{CallID: "p", FromTag: "A", SDP: offer, Country: "US", Tone: "ringback"})
	if err != nil || length != 0 {
		t.Fatalf("Play: %v, length %v", err, length)
	}
	if m := mLine(early); !strings.HasSuffix(m, "RTP/AVP 8 101") {
		t.Errorf("early answer m= %q, want PCMA and telephone-event", m)
	}
	var pcm []int16
	buf := make([]int16, 160)
	for len(pcm) < 8000 { // one second: 440+480 Hz for 2 s, then silence
		b, _, ok := pa.recv(time.Second)
		if !ok {
			t.Fatalf("ringback stopped after %d samples", len(pcm))
		}
		if b[1]&0x7f != 8 || len(b) != 172 {
			t.Fatalf("packet pt %d len %d, want PCMA 20 ms", b[1]&0x7f, len(b))
		}
		codecs.AlawDecodeFrame(buf, b[12:])
		pcm = append(pcm, buf...)
	}
	if s := goertzelShare(pcm, 440) + goertzelShare(pcm, 480); s < 0.9 {
		t.Errorf("440+480 Hz carry %.2f of the ringback", s)
	}
	answer, err := e.Answer(ctx, AnswerRequest{CallID: "p", FromTag: "A", ToTag: "B",
		SDP: xcodeSDP(pb.addr.Port(), "8", "a=rtpmap:8 PCMA/8000"), Flags: Flags{ReplaceOrigin: true}})
	if err != nil {
		t.Fatal(err)
	}
	if portOf(t, answer) != portOf(t, early) {
		t.Errorf("answer port %d, early media came from %d", portOf(t, answer), portOf(t, early))
	}
	o1, o2 := originOf(early), originOf(answer)
	if len(o1) < 3 || len(o2) < 3 || o1[1] != o2[1] || o1[2] == o2[2] {
		t.Errorf("origin %v then %v: want the same session, a new version", o1, o2)
	}
	e.StopPlay("p")
	for { // drain what was in flight
		if _, _, ok := pa.recv(100 * time.Millisecond); !ok {
			break
		}
	}
	if b, _, ok := pa.recv(200 * time.Millisecond); ok {
		t.Errorf("packet after StopPlay: %d bytes", len(b))
	}
}

// TestPlayPCM plays an announcement to a new call: its length, then silence.
func TestPlayPCM(t *testing.T) {
	e := newTestEngine(t, 42880, netip.Addr{}, nil)
	pa := newPeer(t)
	pcm := make([]int16, 4000) // 500 ms of 1 kHz
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	answer, length, err := e.Play(context.Background(), PlayRequest{CallID: "w", FromTag: "A",
		SDP: xcodeSDP(pa.addr.Port(), "0", "a=rtpmap:0 PCMU/8000"), Interface: "access", PCM: pcm})
	if err != nil || length != 500*time.Millisecond {
		t.Fatalf("Play: %v, length %v", err, length)
	}
	if !strings.Contains(string(answer), "a=sendrecv") || portOf(t, answer) == 0 {
		t.Errorf("answer:\n%s", answer)
	}
	n := 0
	var got []int16
	buf := make([]int16, 160)
	for {
		b, _, ok := pa.recv(300 * time.Millisecond)
		if !ok {
			break
		}
		n++
		codecs.UlawDecodeFrame(buf, b[12:])
		got = append(got, buf...)
	}
	if n != 25 {
		t.Errorf("%d packets, want 25 (500 ms)", n)
	}
	if s := goertzelShare(got, 1000); s < 0.9 {
		t.Errorf("1 kHz carries %.2f", s)
	}
	e.Delete("w", "")
}

func TestPlayErrors(t *testing.T) {
	e := newTestEngine(t, 42920, netip.Addr{}, nil)
	ctx := context.Background()
	g711 := xcodeSDP(4000, "0", "a=rtpmap:0 PCMU/8000")
	for _, tc := range []struct {
		name string
		r    PlayRequest
		want error
	}{
		{"no codec to play in", PlayRequest{CallID: "e", FromTag: "A", SDP: xcodeSDP(4000, "18", "a=rtpmap:18 G729/8000"), Tone: "busy", Country: "US"}, ErrBadSDP},
		{"SRTP without a=crypto", PlayRequest{CallID: "e", FromTag: "A", Tone: "busy", Country: "US",
			SDP: []byte(strings.Replace(string(g711), "RTP/AVP", "RTP/SAVP", 1))}, ErrBadSDP},
		{"unknown tone", PlayRequest{CallID: "e", FromTag: "A", SDP: g711, Tone: "howler", Country: "US"}, ErrBadRequest},
		{"unknown country", PlayRequest{CallID: "e", FromTag: "A", SDP: g711, Tone: "busy", Country: "XX"}, ErrBadRequest},
		{"nothing", PlayRequest{CallID: "e", FromTag: "A", SDP: g711}, ErrBadRequest},
		{"no tag", PlayRequest{CallID: "e", SDP: g711, Tone: "busy"}, ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := e.Play(ctx, tc.r); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}
