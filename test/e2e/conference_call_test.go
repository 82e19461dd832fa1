//go:build cgo

package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/audiocheck"
)

// confMember is a conference caller's media: it sends its own tone in its
// codec and decodes what the room sends it.
type confMember struct {
	codec string
	pt    uint8
	hz    float64
	rate  int // PCM rate of the codec
	conn  *net.UDPConn
	mu    sync.Mutex
	pcm   []int16
	srs   int // RTCP sender reports received (rtcp-mux: Opus members)
	oenc  *opus.Encoder
	done  chan struct{}
}

func newConfMember(t *testing.T, ip, codec string, pt uint8, hz float64) *confMember {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: 6000})
	if err != nil {
		t.Fatal(err)
	}
	m := &confMember{codec: codec, pt: pt, hz: hz, rate: 8000, conn: c, done: make(chan struct{})}
	switch codec {
	case "G722":
		m.rate = 16000
	case "opus":
		m.rate = 48000
	}
	dec := g722.NewDecoder()
	odec, err := opus.NewDecoder(opus.DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if m.oenc, err = opus.NewEncoder(opus.EncoderConfig{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		buf := make([]byte, 1500)
		pcm := make([]int16, 5760)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if n >= 28 && buf[0]>>6 == 2 && buf[1] == 200 {
				m.mu.Lock()
				m.srs++
				m.mu.Unlock()
				continue
			}
			if n < 12 || buf[1]&0x7f != pt {
				continue
			}
			var k int
			switch codec {
			case "PCMU":
				k = codecs.UlawDecodeFrame(pcm, buf[12:n])
			case "PCMA":
				k = codecs.AlawDecodeFrame(pcm, buf[12:n])
			case "G722":
				k, _ = dec.Decode(pcm, buf[12:n])
			case "opus":
				k, _ = odec.Decode(buf[12:n], pcm)
			}
			m.mu.Lock()
			m.pcm = append(m.pcm, pcm[:k]...)
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-m.done })
	return m
}

func (m *confMember) offer(ip string) []byte {
	rtpmap, mux := m.codec+"/8000", ""
	if m.codec == "opus" {
		rtpmap, mux = "opus/48000/2", "a=rtcp-mux\r\n" // as WebRTC endpoints do
	}
	return fmt.Appendf(nil, "v=0\r\no=m 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 6000 RTP/AVP %d 101\r\n"+
		"a=rtpmap:%d %s\r\na=rtpmap:101 telephone-event/8000\r\n%sa=sendrecv\r\n", ip, ip, m.pt, m.pt, rtpmap, mux)
}

// talk sends d of the member's tone to dst, paced in real time.
func (m *confMember) talk(dst *net.UDPAddr, d time.Duration) {
	enc, oenc := g722.NewEncoder(), m.oenc
	n := m.rate / 50
	step := 160 // RTP clock units per 20 ms (G.722's clock is 8 kHz)
	if m.codec == "opus" {
		step = 960
	}
	pkt := make([]byte, 12+n)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range int(d / (20 * time.Millisecond)) {
		<-tick.C
		pcm := audiocheck.Sine(m.rate, i*n, n, m.hz, 8000)
		var k int
		switch m.codec {
		case "PCMU":
			k = codecs.UlawEncodeFrame(pkt[12:], pcm)
		case "PCMA":
			k = codecs.AlawEncodeFrame(pkt[12:], pcm)
		case "G722":
			k, _ = enc.Encode(pkt[12:], pcm)
		case "opus":
			k, _ = oenc.Encode(pcm, pkt[12:])
		}
		pkt[0], pkt[1] = 0x80, m.pt
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*step))
		binary.BigEndian.PutUint32(pkt[8:], uint32(m.hz))
		_, _ = m.conn.WriteToUDP(pkt[:12+k], dst)
	}
}

// level is the amplitude of freq in the last second received.
func (m *confMember) level(freq float64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.pcm[len(m.pcm)-min(len(m.pcm), m.rate):]
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(m.rate)
	var s1, s2 float64
	for _, v := range s {
		s1, s2 = float64(v)+2*math.Cos(w)*s1-s2, s1
	}
	return 2 * math.Hypot(s1-s2*math.Cos(w), s2*math.Sin(w)) / float64(len(s))
}

// TestConferenceThroughSbcd: three SIP callers in three codecs (PCMU,
// PCMA, G.722) call conf-e2e@ through sbcd; each sends its own tone and
// must hear the other two and not itself. The room is full at three: a
// fourth caller gets 486 with a Reason header and joins another room at
// the same time as a fifth, the two hearing each other.
func TestConferenceThroughSbcd(t *testing.T) {
	t.Parallel()
	topo := Topology{Net: 85}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	off := false
	cfg.Conferences = policy.ConferenceConfig{URIPattern: "conf-<room>", MaxParticipants: 3, JoinTone: &off, LeaveTone: &off}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	type party struct {
		m    *confMember
		c    *GoCaller
		room string
		dst  *net.UDPAddr
	}
	spec := []struct {
		codec string
		pt    uint8
		hz    float64
		room  string
	}{{"PCMU", 0, 500, "e2e"}, {"PCMA", 8, 900, "e2e"}, {"G722", 9, 1300, "e2e"}, {"PCMU", 0, 700, "side"}, {"PCMA", 8, 1100, "side"}}
	var ps []*party
	for i, s := range spec {
		ip := topo.CallerIP(i)
		c, err := NewGoCaller(ip, CallerPort)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ps = append(ps, &party{m: newConfMember(t, ip, s.codec, s.pt, s.hz), c: c, room: s.room})
	}
	for i, p := range ps[:3] {
		ans, err := p.c.Call(ctx, "conf-e2e", topo.AccessSIP(), p.m.offer(topo.CallerIP(i)))
		if err != nil {
			t.Fatalf("caller %d: %v\n%s", i, err, sbcd.Dump(30))
		}
		if m := sdpAudioRE.FindSubmatch(ans); m == nil || strings.Fields(string(m[3]))[0] != fmt.Sprint(p.m.pt) {
			t.Fatalf("answer to the %s caller:\n%s", p.m.codec, ans)
		}
		p.dst = answerAddr(t, ans)
	}
	// The room is full: the fourth caller is refused, then goes elsewhere.
	res, err := ps[3].c.Invite(ctx, "conf-e2e", topo.AccessSIP(), ps[3].m.offer(topo.CallerIP(3)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status() != 486 || !strings.Contains(res.Header("Reason"), "Conference full") {
		t.Fatalf("fourth caller: %d Reason %q, want 486 \"Conference full\"", res.Status(), res.Header("Reason"))
	}
	for i, p := range ps[3:] {
		ans, err := p.c.Call(ctx, "conf-side", topo.AccessSIP(), p.m.offer(topo.CallerIP(3+i)))
		if err != nil {
			t.Fatalf("side caller %d: %v\n%s", i, err, sbcd.Dump(30))
		}
		p.dst = answerAddr(t, ans)
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.m.talk(p.dst, 2*time.Second) })
	}
	wg.Wait()
	for _, p := range ps {
		if err := p.c.Hangup(ctx); err != nil {
			t.Errorf("hangup: %v", err)
		}
	}
	for i, p := range ps {
		for j, q := range ps {
			a := p.m.level(q.m.hz)
			t.Logf("%s (%s) hears %v Hz at %.0f", p.m.codec, p.room, q.m.hz, a)
			switch {
			case i == j && a > 8000*0.05:
				t.Errorf("caller %d (%s) hears itself at %.0f", i, p.m.codec, a)
			case i != j && p.room == q.room && a < 8000*0.5:
				t.Errorf("caller %d (%s) hears caller %d (%s) at %.0f, want about 8000", i, p.m.codec, j, q.m.codec, a)
			case p.room != q.room && a > 8000*0.05:
				t.Errorf("caller %d in room %s hears caller %d of room %s at %.0f", i, p.room, j, q.room, a)
			}
		}
	}
	if _, err := sbcd.WaitMsg("conference room closed", 5*time.Second); err != nil {
		t.Errorf("room not closed after everyone left: %v", err)
	}
}
