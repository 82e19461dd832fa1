package rtpengine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/rtpengine/conference"
)

const confBase = 42900

// confPeer is a conference participant on loopback: it sends its tone in
// its codec and decodes what it receives.
type confPeer struct {
	*peer
	codec string
	pt    uint8
	hz    float64
	sbc   netip.AddrPort
	mu    sync.Mutex
	pcm   []int16 // received, decoded, at pcmRate
	dec   *g722.Decoder
}

func (p *confPeer) pcmRate() int {
	if p.codec == "g722" {
		return 16000
	}
	return 8000
}

func confSDP(port uint16, formats string, rtpmaps ...string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"m=audio " + itoa(int(port)) + " RTP/AVP " + formats}
	for _, r := range rtpmaps {
		lines = append(lines, "a=rtpmap:"+r)
	}
	lines = append(lines, "a=sendrecv")
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// join serves the peer into room and returns the answer.
func (p *confPeer) join(t *testing.T, e *Engine, id, room, formats string, maps ...string) (string, error) {
	t.Helper()
	ans, err := e.Serve(context.Background(), ServeRequest{CallID: id, FromTag: "A", Service: "conference:" + room,
		SDP: confSDP(p.addr.Port(), formats, maps...), Interface: "access"})
	if err != nil {
		return "", err
	}
	p.sbc = lo(sdpMediaPorts(t, ans)[0])
	return string(ans), nil
}

// talk sends 20 ms packets of the peer's tone for n frames, paced.
func (p *confPeer) talk(n int) {
	rate := p.pcmRate()
	gen, _ := codecs.NewTone(rate, p.hz, -10)
	enc := g722.NewEncoder()
	pcm := make([]int16, rate/50)
	pkt := make([]byte, 12+len(pcm))
	seq, ts := uint16(1), uint32(0)
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for range n {
		<-tk.C
		gen.Read(pcm)
		var k int
		switch p.codec {
		case "pcmu":
			k = codecs.UlawEncodeFrame(pkt[12:], pcm)
		case "pcma":
			k = codecs.AlawEncodeFrame(pkt[12:], pcm)
		case "g722":
			k, _ = enc.Encode(pkt[12:], pcm)
		}
		pkt[0], pkt[1] = 0x80, p.pt
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		binary.BigEndian.PutUint32(pkt[8:], uint32(p.hz))
		_, _ = p.conn.WriteToUDPAddrPort(pkt[:12+k], p.sbc)
		seq++
		ts += 160
	}
}

// listen decodes what arrives until stop.
func (p *confPeer) listen(stop <-chan struct{}) {
	buf := make([]int16, 2000)
	for {
		select {
		case <-stop:
			return
		default:
		}
		b, _, ok := p.recv(50 * time.Millisecond)
		if !ok || len(b) < 12 || b[1]&0x7f != p.pt {
			continue
		}
		var n int
		switch p.codec {
		case "pcmu":
			n = codecs.UlawDecodeFrame(buf, b[12:])
		case "pcma":
			n = codecs.AlawDecodeFrame(buf, b[12:])
		case "g722":
			n, _ = p.dec.Decode(buf, b[12:])
		}
		p.mu.Lock()
		p.pcm = append(p.pcm, buf[:n]...)
		p.mu.Unlock()
	}
}

// level is the amplitude of freq over the last d received.
func (p *confPeer) level(freq float64, d time.Duration) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(len(p.pcm), int(d.Seconds()*float64(p.pcmRate())))
	s := p.pcm[len(p.pcm)-n:]
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(p.pcmRate())
	var s1, s2 float64
	for _, v := range s {
		s1, s2 = float64(v)+2*math.Cos(w)*s1-s2, s1
	}
	return 2 * math.Hypot(s1-s2*math.Cos(w), s2*math.Sin(w)) / float64(n)
}

func TestConferenceThreeCodecs(t *testing.T) {
	e := newTestEngine(t, confBase, netip.Addr{}, nil)
	peers := []*confPeer{
		{peer: newPeer(t), codec: "pcmu", pt: 0, hz: 500},
		{peer: newPeer(t), codec: "pcma", pt: 8, hz: 900},
		{peer: newPeer(t), codec: "g722", pt: 9, hz: 1300, dec: g722.NewDecoder()},
	}
	offers := []string{"0 101", "8 0 101", "9 0"}
	for i, p := range peers {
		ans, err := p.join(t, e, fmt.Sprint("c", i), "room1", offers[i], "101 telephone-event/8000")
		if err != nil {
			t.Fatal(err)
		}
		wantM := map[int]string{0: "RTP/AVP 0 101\r\n", 1: "RTP/AVP 8 101\r\n", 2: "RTP/AVP 9\r\n"}[i]
		if !strings.Contains(ans, wantM) || !strings.Contains(ans, "a=ptime:20") || !strings.Contains(ans, "a=sendrecv") {
			t.Fatalf("answer %d:\n%s", i, ans)
		}
	}
	rooms := e.Conferences()
	if len(rooms) != 1 || rooms[0].Name != "room1" || len(rooms[0].Participants) != 3 {
		t.Fatalf("rooms %+v", rooms)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { p.listen(stop) })
		wg.Go(func() { p.talk(50) })
	}
	time.Sleep(1100 * time.Millisecond)
	close(stop)
	wg.Wait()
	amp := 32767 * math.Pow(10, (-10-3.17)/20)
	for i, p := range peers {
		for j, q := range peers {
			a := p.level(q.hz, 500*time.Millisecond)
			if i == j && a > amp*0.05 {
				t.Errorf("%s hears itself at %.0f", p.codec, a)
			}
			if i != j && a < amp*0.5 {
				t.Errorf("%s hears %s at %.0f, want about %.0f", p.codec, q.codec, a, amp)
			}
		}
	}
	for i := range peers {
		if _, err := e.Delete(fmt.Sprint("c", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if rooms := e.Conferences(); len(rooms) != 0 {
		t.Fatalf("rooms left after every call ended: %+v", rooms)
	}
}

func TestConferenceLimitsAndReinvite(t *testing.T) {
	e := newTestEngine(t, confBase, netip.Addr{}, func(c *Config) {
		c.Conference = conference.Config{MaxParticipants: 2}
	})
	a, b, c := &confPeer{peer: newPeer(t)}, &confPeer{peer: newPeer(t)}, &confPeer{peer: newPeer(t)}
	if _, err := a.join(t, e, "a", "r", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.join(t, e, "b", "r", "8"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.join(t, e, "c", "r", "0"); !errors.Is(err, conference.ErrFull) {
		t.Fatalf("third join: %v, want ErrFull", err)
	}
	if _, err := e.Query("c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused call kept: %v", err)
	}
	// A re-INVITE with the same codec keeps the participant.
	before, _ := e.Conference("r")
	if _, err := a.join(t, e, "a", "r", "0"); err != nil {
		t.Fatal(err)
	}
	after, _ := e.Conference("r")
	if !after.Participants[0].Joined.Equal(before.Participants[0].Joined) {
		t.Error("re-INVITE rejoined the room")
	}
	if err := e.MuteConference("r", "b", true); err != nil {
		t.Fatal(err)
	}
	if ri, _ := e.Conference("r"); !ri.Participants[1].Muted {
		t.Error("b not muted")
	}
	for _, bad := range []struct{ svc, sdp string }{{"conference:", "0"}, {"conference:a b", "0"}, {"conference:x", "18"}} {
		_, err := e.Serve(context.Background(), ServeRequest{CallID: "bad", FromTag: "A", Service: bad.svc,
			SDP: confSDP(c.addr.Port(), bad.sdp)})
		if !errors.Is(err, ErrBadFlags) && !errors.Is(err, ErrBadSDP) {
			t.Errorf("%q with %q: %v", bad.svc, bad.sdp, err)
		}
	}
	if _, err := e.Delete("a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.join(t, e, "c", "r", "0"); err != nil {
		t.Fatalf("join after a left: %v", err)
	}
}
