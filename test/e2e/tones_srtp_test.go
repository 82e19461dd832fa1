package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/srtp/v3"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/policy"
)

// srtpEar is an SDES-SRTP caller's media end (RTP/SAVP, PCMU): it takes
// sbcd's key from the a=crypto line of an answer (early or final) and
// decrypts and decodes what arrives, keeping each 20 ms frame's arrival
// and SSRC. Packets that fail authentication are counted, never decoded.
type srtpEar struct {
	conn *net.UDPConn
	key  []byte // the caller's own key||salt, offered

	mu      sync.Mutex
	line    string // sbcd's a=crypto value the context was made from
	ctx     *srtp.Context
	pcm     []int16
	arrival []time.Time
	ssrc    []uint32 // per frame
	bad     int      // packets that did not decrypt
	// pending are packets that came before the answer's key (media may
	// overtake the 183 or 180 that carries it); decrypted once it is in.
	pending []heldPacket
	done    chan struct{}
}

type heldPacket struct {
	b  []byte
	at time.Time
}

// take decrypts and decodes one packet; called with mu held and a key.
func (s *srtpEar) take(b []byte, at time.Time) {
	var out [1500]byte
	dec, err := s.ctx.DecryptRTP(out[:0], b, nil)
	switch {
	case err != nil:
		s.bad++
	case dec[1]&0x7f == 0 && len(dec) == 172:
		pcm := make([]int16, 160)
		codecs.UlawDecodeFrame(pcm, dec[12:])
		s.pcm = append(s.pcm, pcm...)
		s.arrival = append(s.arrival, at)
		s.ssrc = append(s.ssrc, binary.BigEndian.Uint32(dec[8:]))
	}
}

func newSRTPEar(t *testing.T, ip string, port int) *srtpEar {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	s := &srtpEar{conn: c, key: make([]byte, 30), done: make(chan struct{})}
	_, _ = rand.Read(s.key)
	go s.receive()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

func (s *srtpEar) receive() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[0]>>6 != 2 || buf[1]&0x7f >= 72 && buf[1]&0x7f <= 76 {
			continue
		}
		now := time.Now()
		s.mu.Lock()
		switch {
		case s.ctx != nil:
			s.take(buf[:n], now)
		case len(s.pending) < 100:
			s.pending = append(s.pending, heldPacket{append([]byte(nil), buf[:n]...), now})
		default:
			s.bad++
		}
		s.mu.Unlock()
	}
}

// offer is the caller's RTP/SAVP offer with its own key.
func (s *srtpEar) offer() []byte {
	a := s.conn.LocalAddr().(*net.UDPAddr)
	return fmt.Appendf(nil, "v=0\r\no=srtp 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"+
		"a=ptime:20\r\na=sendrecv\r\n", a.IP, a.IP, a.Port, base64.StdEncoding.EncodeToString(s.key))
}

// answered keys the ear from an answer's a=crypto line: a line it already
// has keeps the context (and its replay and rollover state); a new one
// replaces it, and is reported.
func (s *srtpEar) answered(body string) (changed bool, err error) {
	var line string
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=crypto:"); ok {
			line = v
		}
	}
	f := strings.Fields(line)
	if len(f) < 3 || f[1] != "AES_CM_128_HMAC_SHA1_80" {
		return false, fmt.Errorf("answer a=crypto %q, want AES_CM_128_HMAC_SHA1_80 (the one offered)", line)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if line == s.line {
		return false, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.Split(f[2], "|")[0], "inline:"))
	if err != nil || len(key) != 30 {
		return false, fmt.Errorf("answer key %q: %v", f[2], err)
	}
	ctx, err := srtp.CreateContext(key[:16], key[16:], srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.SRTPReplayProtection(128))
	if err != nil {
		return false, err
	}
	changed = s.line != ""
	s.line, s.ctx = line, ctx
	for _, p := range s.pending {
		s.take(p.b, p.at)
	}
	s.pending = nil
	return changed, nil
}

// srtpCallerCall places a call from an SDES-SRTP caller through an access
// realm to a plain-RTP callee (srtp: none) on net netN; the callee rings
// for ring (180 without SDP) and answers, or refuses with fail. It
// returns the caller's ear, the final response and when it arrived.
func srtpCallerCall(t *testing.T, netN int, mutate func(*policy.Config), ring time.Duration, fail int) (*srtpEar, Message, time.Time, *sipCallee) {
	t.Helper()
	e := newGoEnv(t, netN, func(cfg *policy.Config) {
		cfg.Realms[1].Media.SRTP = "none"
		mutate(cfg)
	})
	topo, sbcd := e.topo, e.sbcd
	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	callee := newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)
	callee.ring, callee.fail = ring, fail
	ear := newSRTPEar(t, topo.CallerIP(0), CallerMediaPort)
	caller, err := NewGoCaller(topo.CallerIP(0), CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(caller.Close)
	var early []string
	caller.Provisional = func(m Message) {
		if m.Status() > 100 && strings.Contains(m.Body, "m=audio") {
			early = append(early, fmt.Sprintf("%d", m.Status()))
			if changed, err := ear.answered(m.Body); err != nil || changed {
				t.Errorf("%d: key changed %v, %v\n%s", m.Status(), changed, err, m.Body)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := caller.Invite(ctx, "1000", topo.AccessSIP(), ear.offer())
	final := time.Now()
	if err != nil {
		t.Fatalf("INVITE: %v\n%s", err, sbcd.Dump(30))
	}
	if len(early) == 0 {
		t.Fatalf("no early media answer reached the caller before %d\n%s", res.Status(), sbcd.Dump(30))
	}
	if res.Status() == 200 {
		if !strings.Contains(res.Body, "RTP/SAVP") {
			t.Fatalf("200 to the SRTP caller is not RTP/SAVP:\n%s", res.Body)
		}
		if changed, err := ear.answered(res.Body); err != nil || changed {
			t.Errorf("the 200 changed sbcd's key from the early answer's (changed %v, %v)", changed, err)
		}
		calleeMedia.audio(600*time.Millisecond, nil) // the callee's own (silent) audio
		_ = caller.Hangup(ctx)
	}
	return ear, res, final, callee
}

// TestSDESCallerHearsRingback: a caller offering SDES-SRTP (RTP/SAVP) calls
// a plain callee that rings (180 without SDP) for 2.5 s. sbcd answers the
// caller with early media under its own key and plays the UK ringback
// (400+450 Hz, 0.4/0.2/0.4/2.0 s) in SRTP; the caller decrypts it and
// measures frequency and cadence. The 200 keeps the key, and the callee's
// media after it decrypts in the same context, from another SSRC.
func TestSDESCallerHearsRingback(t *testing.T) {
	t.Parallel()
	ear, res, answered, _ := srtpCallerCall(t, 135, func(c *policy.Config) {
		c.Realms[0].Media.Tones = "UK"
		c.Realms[0].Media.Ringback = policy.RingbackLocal
	}, 2500*time.Millisecond, 0)
	if res.Status() != 200 {
		t.Fatalf("final response %d, want 200", res.Status())
	}
	ear.mu.Lock()
	defer ear.mu.Unlock()
	var before, after []int16
	var ringSSRC uint32
	afterSSRC := map[uint32]bool{}
	for i, at := range ear.arrival {
		s := ear.pcm[i*160 : (i+1)*160]
		switch {
		case at.Before(answered):
			before = append(before, s...)
			ringSSRC = ear.ssrc[i]
		case at.After(answered.Add(100 * time.Millisecond)):
			after = append(after, s...)
			afterSSRC[ear.ssrc[i]] = true
		}
	}
	runs := frameRuns(before)
	t.Logf("%d frames decrypted before the answer, runs %v; %d after; %d packets did not decrypt",
		len(before)/160, runs, len(after)/160, ear.bad)
	if ear.bad > 0 {
		t.Errorf("%d packets to the caller did not decrypt under sbcd's answered key", ear.bad)
	}
	want := []int{20, 10, 20, 40}
	if len(runs) < len(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	for i, w := range want {
		last := i == len(want)-1
		if (!last && !near(runs[i], w, 1)) || (last && runs[i] < w) {
			t.Errorf("run %d: %d frames, want %d (runs %v)", i, runs[i], w, runs)
		}
	}
	burst := before[:runs[0]*160]
	s400, s450 := toneShare(burst, 400, 8000), toneShare(burst, 450, 8000)
	if s400 < 0.4 || s450 < 0.4 || s400+s450 < 0.9 {
		t.Errorf("400 Hz carries %.2f and 450 Hz %.2f of the first burst", s400, s450)
	}
	if len(after) < 20*160 {
		t.Fatalf("only %d frames of the callee's media decrypted after the answer", len(after)/160)
	}
	if runs := frameRuns(after); len(runs) > 1 || runs[0] != 0 {
		t.Errorf("ringback still heard after the answer: runs %v", runs)
	}
	if afterSSRC[ringSSRC] || len(afterSSRC) != 1 {
		t.Errorf("SSRCs after the answer %v; the ringback's was %x", afterSSRC, ringSSRC)
	}
}

// TestSDESCallerHearsAnnouncement: the callee refuses with 404; policy
// plays a 1.2 s WAV (1 kHz) to the SDES-SRTP caller as early media in
// SRTP (183 with sbcd's a=crypto), then the 404 follows.
func TestSDESCallerHearsAnnouncement(t *testing.T) {
	t.Parallel()
	wavPath := filepath.Join(t.TempDir(), "not-in-service.wav")
	writeToneWAV(t, wavPath, 1000, 1200*time.Millisecond)
	ear, res, final, _ := srtpCallerCall(t, 137, func(c *policy.Config) {
		c.Media.Announcements = map[string]policy.AnnouncementConfig{"404": {WAV: wavPath}}
	}, 0, 404)
	if res.Status() != 404 {
		t.Fatalf("final response %d, want 404", res.Status())
	}
	ear.mu.Lock()
	defer ear.mu.Unlock()
	if len(ear.arrival) == 0 {
		t.Fatalf("no announcement frame decrypted (%d packets did not decrypt)", ear.bad)
	}
	runs := frameRuns(ear.pcm)
	t.Logf("404 %v after the first frame; %d frames decrypted, runs %v; %d packets did not decrypt",
		final.Sub(ear.arrival[0]), len(ear.pcm)/160, runs, ear.bad)
	if ear.bad > 0 {
		t.Errorf("%d packets to the caller did not decrypt under sbcd's answered key", ear.bad)
	}
	if len(runs) == 0 || !near(runs[0], 60, 2) {
		t.Fatalf("announcement runs %v, want one of 60 frames (1.2 s)", runs)
	}
	if share := toneShare(ear.pcm[:runs[0]*160], 1000, 8000); share < 0.9 {
		t.Errorf("1 kHz carries %.2f of the decrypted announcement", share)
	}
	if last := ear.arrival[len(ear.arrival)-1]; final.Before(last) {
		t.Errorf("the 404 arrived %v before the announcement's last frame", last.Sub(final))
	}
}
