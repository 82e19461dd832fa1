package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
)

// The peers of the DTMF and tone tests: a media endpoint that sends
// PCMU (silence, in-band digits or RFC 4733 events) and keeps everything
// it receives, and a raw SIP callee that answers (or rings, or refuses)
// and can send INFO digits into its dialog.

// mediaEnd is one side's RTP: it sends 20 ms PCMU packets paced in real
// time and records what arrives.
type mediaEnd struct {
	t    *testing.T
	conn *net.UDPConn

	mu      sync.Mutex
	dst     *net.UDPAddr
	seq     uint16
	ts      uint32
	ssrc    uint32
	alaw    bool    // send and answer PCMA (PT 8) instead of PCMU
	pcm     []int16 // decoded PCMU/PCMA received, in arrival order
	arrival []time.Time
	events  []byte // digits of the telephone-events received (PT 101)
	rx      *rfc4733.Receiver
	digits  []rfc4733.Digit
	pts     map[uint8]int
	done    chan struct{}
}

func newMediaEnd(t *testing.T, ip string, port int) *mediaEnd {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	rx, _ := rfc4733.NewReceiver(rfc4733.ReceiverConfig{})
	m := &mediaEnd{t: t, conn: c, ssrc: uint32(port) * 7919, rx: rx, pts: map[uint8]int{}, done: make(chan struct{})}
	go m.receive()
	t.Cleanup(func() { c.Close(); <-m.done })
	return m
}

func (m *mediaEnd) receive() {
	defer close(m.done)
	buf := make([]byte, 1500)
	pcm := make([]int16, 1500)
	for {
		n, err := m.conn.Read(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[0]>>6 != 2 || buf[1]&0x7f >= 72 && buf[1]&0x7f <= 76 {
			continue
		}
		pt := buf[1] & 0x7f
		now := time.Now()
		m.mu.Lock()
		m.pts[pt]++
		switch pt {
		case 0, 8:
			var k int
			if pt == 8 {
				k = codecs.AlawDecodeFrame(pcm, buf[12:n])
			} else {
				k = codecs.UlawDecodeFrame(pcm, buf[12:n])
			}
			m.pcm = append(m.pcm, pcm[:k]...)
			for range k / 160 {
				m.arrival = append(m.arrival, now)
			}
		case 101:
			m.digits, _ = m.rx.Push(m.digits[:0], now, binary.BigEndian.Uint32(buf[4:]), buf[1]&0x80 != 0,
				binary.BigEndian.Uint16(buf[2:]), buf[12:n])
			for _, d := range m.digits {
				if k, err := rfc4733.Key(d.Code); err == nil {
					m.events = append(m.events, k)
				}
			}
		}
		m.mu.Unlock()
	}
}

// sdp is an offer or answer for this end: PCMU, with telephone-event 101
// when events is set.
func (m *mediaEnd) sdp(events bool) []byte {
	a := m.conn.LocalAddr().(*net.UDPAddr)
	f, ev, codec := "0", "", "0 PCMU"
	if m.alaw {
		f, codec = "8", "8 PCMA"
	}
	if events {
		f, ev = f+" 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
	}
	return fmt.Appendf(nil, "v=0\r\no=peer 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP %s\r\na=rtpmap:%s/8000\r\n%sa=ptime:20\r\na=sendrecv\r\n", a.IP, a.IP, a.Port, f, codec, ev)
}

// point sets where the end sends, from the other side's SDP.
func (m *mediaEnd) point(t *testing.T, body string) {
	t.Helper()
	addr, port, err := SDPConnection(body)
	if err != nil {
		t.Fatalf("SDP: %v\n%s", err, body)
	}
	m.mu.Lock()
	m.dst = &net.UDPAddr{IP: net.ParseIP(addr), Port: port}
	m.mu.Unlock()
}

func (m *mediaEnd) packet(pt uint8, marker bool, ts uint32, payload []byte) {
	pkt := make([]byte, 12+len(payload))
	pkt[0], pkt[1] = 0x80, pt
	if marker {
		pkt[1] |= 0x80
	}
	m.mu.Lock()
	binary.BigEndian.PutUint16(pkt[2:], m.seq)
	m.seq++
	dst := m.dst
	m.mu.Unlock()
	binary.BigEndian.PutUint32(pkt[4:], ts)
	binary.BigEndian.PutUint32(pkt[8:], m.ssrc)
	copy(pkt[12:], payload)
	if dst != nil {
		_, _ = m.conn.WriteToUDP(pkt, dst)
	}
}

// audio sends d of PCMU (PCMA with alaw) read from src (nil: silence), one packet per 20 ms.
func (m *mediaEnd) audio(d time.Duration, src interface{ Read([]int16) }) {
	pcm := make([]int16, 160)
	payload := make([]byte, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range int(d / (20 * time.Millisecond)) {
		<-tick.C
		if src != nil {
			src.Read(pcm)
		} else {
			clear(pcm)
		}
		if m.alaw {
			codecs.AlawEncodeFrame(payload, pcm)
			m.packet(8, false, m.ts, payload)
		} else {
			codecs.UlawEncodeFrame(payload, pcm)
			m.packet(0, false, m.ts, payload)
		}
		m.ts += 160
	}
}

// eventKeys sends keys as telephone-events (on for 80 ms, then 80 ms of
// silence), each packet sent twice and the marker left out of every
// other digit, as redundant and marker-less senders do.
func (m *mediaEnd) eventKeys(t *testing.T, keys string) {
	snd, err := rfc4733.NewSender(rfc4733.SenderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range len(keys) {
		code, _ := rfc4733.Code(keys[i])
		pkts, err := snd.Digit(nil, code, m.ts, 640)
		if err != nil {
			t.Fatal(err)
		}
		for j, p := range pkts {
			if j < len(pkts)-2 { // one packet per 20 ms; the end's copies at once
				<-tick.C
			}
			var pl [4]byte
			_ = p.Event.Put(pl[:])
			m.packet(101, p.Marker && i%2 == 0, p.Timestamp, pl[:])
			m.mu.Lock()
			m.seq-- // the duplicate carries the same sequence number
			m.mu.Unlock()
			m.packet(101, p.Marker && i%2 == 0, p.Timestamp, pl[:])
		}
		m.ts += 640
		m.audio(80*time.Millisecond, nil)
	}
}

// received returns the telephone-event digits and the digits heard in
// the audio so far.
func (m *mediaEnd) received(t *testing.T) (events, inband string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	det, err := dtmf.NewDetector(8000, dtmf.DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	evs := det.Flush(det.Process(nil, m.pcm))
	var heard []byte
	for _, ev := range evs {
		if ev.Kind == dtmf.End {
			heard = append(heard, ev.Key)
		}
	}
	return string(m.events), string(heard)
}

// keyGen returns an in-band generator of keys, 80 ms on, 80 ms off.
func keyGen(t *testing.T, keys string) *dtmf.Generator {
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{On: 80 * time.Millisecond, Off: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Play(keys); err != nil {
		t.Fatal(err)
	}
	return g
}

// sipCallee is a raw UDP SIP callee: it answers an INVITE as told,
// answers INFO and BYE with 200 (keeping INFO bodies) and sends INFO
// digits in the dialog.
type sipCallee struct {
	t     *testing.T
	conn  *net.UDPConn
	ip    string
	media *mediaEnd

	// events: answer with telephone-event; ring: 180 without SDP first,
	// then 200 after ring; fail: answer with this status instead.
	events bool
	ring   time.Duration
	fail   int

	mu      sync.Mutex
	infos   []string
	invite  *Message
	from    *net.UDPAddr
	tag     string
	cseq    int
	replies chan Message
	done    chan struct{}
}

func newSIPCallee(t *testing.T, ip string, port int, media *mediaEnd) *sipCallee {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	s := &sipCallee{t: t, conn: c, ip: ip, media: media, tag: token(), replies: make(chan Message, 16), done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { c.Close(); <-s.done })
	return s
}

func (s *sipCallee) serve() {
	defer close(s.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := ParseMessage(string(buf[:n]))
		if err != nil {
			continue
		}
		if !m.IsRequest() {
			select {
			case s.replies <- m:
			default:
			}
			continue
		}
		switch m.Method() {
		case "INVITE":
			s.mu.Lock()
			again := s.invite != nil && s.invite.CallID() == m.CallID()
			s.invite, s.from = &m, from
			s.mu.Unlock()
			if again {
				continue // a retransmission: the answer is on its way
			}
			go s.answer(m, from)
		case "INFO":
			s.mu.Lock()
			s.infos = append(s.infos, m.Body)
			s.mu.Unlock()
			s.respond(m, from, 200, "")
		case "BYE":
			s.respond(m, from, 200, "")
		}
	}
}

func (s *sipCallee) answer(m Message, from *net.UDPAddr) {
	s.respond(m, from, 100, "")
	if s.fail != 0 {
		s.respond(m, from, s.fail, "")
		return
	}
	s.media.point(s.t, m.Body)
	if s.ring > 0 {
		s.respond(m, from, 180, "")
		time.Sleep(s.ring)
	}
	s.respond(m, from, 200, string(s.media.sdp(s.events)))
}

func (s *sipCallee) respond(req Message, to *net.UDPAddr, code int, body string) {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reasonFor(code))
	for _, h := range []string{"Via", "From", "Call-ID", "CSeq"} {
		for _, v := range req.Headers(h) {
			fmt.Fprintf(&b, "%s: %s\r\n", h, v)
		}
	}
	toHdr := req.Header("To")
	if code > 100 && !strings.Contains(toHdr, "tag=") {
		toHdr += ";tag=" + s.tag
	}
	fmt.Fprintf(&b, "To: %s\r\nContact: <sip:callee@%s:%d>\r\n", toHdr, s.ip, s.conn.LocalAddr().(*net.UDPAddr).Port)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	_, _ = s.conn.WriteToUDP([]byte(b.String()), to)
}

func reasonFor(code int) string {
	switch code {
	case 100:
		return "Trying"
	case 180:
		return "Ringing"
	case 200:
		return "OK"
	case 404:
		return "Not Found"
	}
	return "Whatever"
}

// info sends one digit in an INFO (application/dtmf-relay) and waits
// for its final response.
func (s *sipCallee) info(key byte, d time.Duration) (int, error) {
	s.mu.Lock()
	inv, to := s.invite, s.from
	s.cseq++
	cseq := s.cseq
	s.mu.Unlock()
	if inv == nil {
		return 0, fmt.Errorf("no call")
	}
	target := inv.Header("Contact")
	if i, j := strings.Index(target, "<"), strings.Index(target, ">"); i >= 0 && j > i {
		target = target[i+1 : j]
	}
	toTag := inv.Header("To")
	if !strings.Contains(toTag, "tag=") {
		toTag += ";tag=" + s.tag
	}
	body := fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", key, d.Milliseconds())
	var b strings.Builder
	fmt.Fprintf(&b, "INFO %s SIP/2.0\r\n", target)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n", s.ip, s.conn.LocalAddr().(*net.UDPAddr).Port, token())
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d INFO\r\nMax-Forwards: 70\r\n", toTag, inv.Header("From"), inv.CallID(), 100+cseq)
	fmt.Fprintf(&b, "Content-Type: application/dtmf-relay\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := s.conn.WriteToUDP([]byte(b.String()), to); err != nil {
		return 0, err
	}
	deadline := time.After(3 * time.Second)
	for {
		select {
		case m := <-s.replies:
			if n, meth := m.CSeq(); n == 100+cseq && meth == "INFO" && m.Status() >= 200 {
				return m.Status(), nil
			}
		case <-deadline:
			return 0, fmt.Errorf("%w: no answer to INFO", ErrTimeout)
		}
	}
}

// Infos returns the digits of the INFOs received, in order.
func (s *sipCallee) digits() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []byte
	for _, body := range s.infos {
		for _, line := range strings.Split(body, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && strings.EqualFold(k, "Signal") && len(v) == 1 {
				out = append(out, v[0])
			}
		}
	}
	return string(out)
}
