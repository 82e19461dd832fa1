package sbc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// toneMedia is fakeMedia that also plays digits and tones, recording
// what it was asked.
type toneMedia struct {
	*fakeMedia
	mu     sync.Mutex
	plays  []Playback
	stops  int
	digits []string
	length time.Duration
}

func (m *toneMedia) Play(_ context.Context, call string, offer []byte, realm string, p Playback) ([]byte, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.plays = append(m.plays, p)
	l := p.Duration
	if p.WAV != "" {
		l = m.length
	}
	return append(m.sdp(realm), "a=x-played\r\n"...), l, nil
}

func (m *toneMedia) StopPlay(string) {
	m.mu.Lock()
	m.stops++
	m.mu.Unlock()
}

func (m *toneMedia) PlayDigit(_ context.Context, call string, to Side, key byte, d time.Duration) error {
	m.mu.Lock()
	m.digits = append(m.digits, fmt.Sprintf("%s:%c:%v", to, key, d))
	m.mu.Unlock()
	return nil
}

func (m *toneMedia) seen() ([]Playback, int, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Playback(nil), m.plays...), m.stops, append([]string(nil), m.digits...)
}

// newToneBed is a test bed whose access realm media has the extra keys
// accessMedia ("dtmf: info, ..."), with top-level YAML appended.
func newToneBed(t *testing.T, accessMedia, top string) (*testBed, *toneMedia) {
	t.Helper()
	caller := newPeer(t, "127.0.3.10")
	callee := newPeer(t, "127.0.4.10")
	pa, pb := freePort(t, "127.0.3.1"), freePort(t, "127.0.4.1")
	doc := fmt.Sprintf(testPolicy, pa, pb, callee.port())
	doc = strings.Replace(doc, "port_max: 40999}", "port_max: 40999, "+accessMedia+"}", 1) + top
	pol, err := policy.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	tm := &toneMedia{fakeMedia: &fakeMedia{}}
	obs := &recObserver{}
	b, err := New(Config{Policy: pol, Media: tm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &testBed{b: b, media: tm.fakeMedia, obs: obs, caller: caller, callee: callee,
		sbcA: fmt.Sprintf("127.0.3.1:%d", pa), sbcB: fmt.Sprintf("127.0.4.1:%d", pb)}, tm
}

// TestLocalRingbackState: a 180 without SDP gets the caller's country's
// ringback once (a second 180 repeats its SDP), and the answer stops it.
func TestLocalRingbackState(t *testing.T) {
	tb, tm := newToneBed(t, "tones: UK, ringback: local", "")
	callID := "ring-1@127.0.3.10"
	tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	for range 2 {
		tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "bobtag", "sip:bob@"+tb.callee.addr(), "", ""))
		r := tb.caller.expectResponse(180, wait)
		if !strings.Contains(string(r.Body()), "a=x-played") {
			t.Fatalf("180 to the caller without the ringback SDP:\n%s", r.Body())
		}
	}
	plays, stops, _ := tm.seen()
	if len(plays) != 1 || plays[0].Tone != "ringback" || plays[0].Country != "UK" || stops != 0 {
		t.Fatalf("plays %+v, stops %d; want one UK ringback", plays, stops)
	}
	tb.callee.send(tb.sbcB, reply(inv, 200, "OK", "bobtag", "sip:bob@"+tb.callee.addr(), "", calleeSDP))
	tb.caller.expectResponse(200, wait)
	if _, stops, _ := tm.seen(); stops != 1 {
		t.Errorf("ringback stopped %d times at the answer, want 1", stops)
	}
}

// TestRingbackSecureCallers: local ringback is asked for whatever the
// caller realm's srtp, and as WebRTC (answered as the browser's final
// answer will be: ICE-lite, BUNDLE) exactly when the realm is webrtc.
func TestRingbackSecureCallers(t *testing.T) {
	for i, tc := range []struct {
		srtp   string
		webrtc bool
	}{{"webrtc", true}, {"sdes", false}, {"dtls", false}, {"optional", false}} {
		t.Run(tc.srtp, func(t *testing.T) {
			tb, tm := newToneBed(t, "tones: FR, ringback: local, srtp: "+tc.srtp, "")
			callID := fmt.Sprintf("ring-sec-%d@127.0.3.10", i)
			tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
			inv := tb.callee.expectRequest("INVITE", wait)
			tb.callee.send(tb.sbcB, reply(inv, 180, "Ringing", "bobtag", "sip:bob@"+tb.callee.addr(), "", ""))
			tb.caller.expectResponse(180, wait)
			plays, _, _ := tm.seen()
			if len(plays) != 1 || plays[0].Tone != "ringback" || plays[0].Country != "FR" || plays[0].WebRTC != tc.webrtc {
				t.Fatalf("plays %+v; want one FR ringback with WebRTC %v", plays, tc.webrtc)
			}
		})
	}
}

// TestRelayedRingbackByDefault: without ringback: local nothing is played.
func TestRelayedRingbackByDefault(t *testing.T) {
	tb, tm := newToneBed(t, "tones: DE", "")
	tb.answered(t, "ring-2@127.0.3.10")
	if plays, _, _ := tm.seen(); len(plays) != 0 {
		t.Errorf("played %+v with ringback: relay", plays)
	}
}

// TestAnnouncementHoldsFailure: a 486 the policy announces reaches the
// caller as 183 with sbcd's SDP, then the 486 after the tone's duration.
func TestAnnouncementHoldsFailure(t *testing.T) {
	tb, tm := newToneBed(t, "tones: FR", "media:\n  announcements:\n    \"486\": {tone: busy, duration: 400ms}\n")
	callID := "ann-1@127.0.3.10"
	start := time.Now()
	tb.caller.send(tb.sbcA, tb.invite(callID, "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	tb.callee.send(tb.sbcB, reply(inv, 486, "Busy Here", "bobtag", "", "", ""))
	early := tb.caller.expectResponse(183, wait)
	if !strings.Contains(string(early.Body()), "a=x-played") {
		t.Fatalf("183 without the announcement SDP:\n%s", early.Body())
	}
	tb.caller.expectResponse(486, wait)
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("486 after %v, before the 400 ms announcement ended", took)
	}
	plays, stops, _ := tm.seen()
	if len(plays) != 1 || plays[0].Tone != "busy" || plays[0].Country != "FR" || plays[0].Duration != 400*time.Millisecond || stops != 1 {
		t.Errorf("plays %+v, stops %d", plays, stops)
	}
}

// TestFailureWithoutAnnouncement: a code the policy does not list goes
// straight to the caller.
func TestFailureWithoutAnnouncement(t *testing.T) {
	tb, tm := newToneBed(t, "tones: US", "media:\n  announcements:\n    \"486\": {tone: busy}\n")
	tb.caller.send(tb.sbcA, tb.invite("ann-2@127.0.3.10", "1000", ""))
	inv := tb.callee.expectRequest("INVITE", wait)
	tb.callee.send(tb.sbcB, reply(inv, 404, "Not Found", "bobtag", "", "", ""))
	tb.caller.expectResponse(404, wait)
	if plays, _, _ := tm.seen(); len(plays) != 0 {
		t.Errorf("played %+v before a 404 with no announcement", plays)
	}
}

// TestInfoDigitsInterworking: the caller's leg takes DTMF in INFO, the
// trunk in RFC 4733. An INFO digit from the caller is answered and played
// into the callee's media; a digit the media plane detects from the
// callee goes to the caller as INFO; both land in the call record.
func TestInfoDigitsInterworking(t *testing.T) {
	tb, tm := newToneBed(t, "dtmf: info", "")
	callID := "dtmf-1@127.0.3.10"
	_, tag := tb.answered(t, callID)
	info := strings.Replace(tb.inDialog("INFO", callID, tag, 2, "Signal=5\nDuration=160\n"),
		"Content-Length", "Content-Type: application/dtmf-relay\nContent-Length", 1)
	tb.caller.send(tb.sbcA, info)
	tb.caller.expectResponse(200, wait)
	if _, _, digits := tm.seen(); len(digits) != 1 || digits[0] != "B:5:160ms" {
		t.Fatalf("digits played %v, want B:5:160ms", digits)
	}
	bad := strings.Replace(tb.inDialog("INFO", callID, tag, 3, "Signal=x\n"),
		"Content-Length", "Content-Type: application/dtmf-relay\nContent-Length", 1)
	tb.caller.send(tb.sbcA, bad)
	tb.caller.expectResponse(400, wait)

	calls := tb.b.Calls(context.Background())
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	tb.b.Digit(calls[0].ID, Digit{Key: '#', Duration: 120 * time.Millisecond, Side: SideB, Method: DigitRFC4733})
	req := tb.caller.expectRequest("INFO", wait)
	if ct := req.ContentType(); ct == nil || ct.Value() != "application/dtmf-relay" ||
		string(req.Body()) != "Signal=#\r\nDuration=120\r\n" {
		t.Fatalf("INFO to the caller: %v %q", ct, req.Body())
	}
	tb.caller.send(tb.sbcA, reply(req, 200, "OK", "", "", "", ""))
	tb.caller.send(tb.sbcA, tb.inDialog("BYE", callID, tag, 4, ""))
	tb.caller.expectResponse(200, wait)
	bye := tb.callee.expectRequest("BYE", wait)
	tb.callee.send(tb.sbcB, reply(bye, 200, "OK", "", "", "", ""))
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		tb.obs.mu.Lock()
		recs := append([]*CallRecord(nil), tb.obs.records...)
		tb.obs.mu.Unlock()
		if len(recs) > 0 {
			if recs[0].Digits != "5#" {
				t.Errorf("call record digits %q, want 5#", recs[0].Digits)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("no call record")
}
