package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/codecs"
)

// RTPPeer is a SIP endpoint written in Go with G.711 µ-law media, the far
// end of WebRTC tests: it answers INVITEs (or places one), keeps the
// audio it receives and sends a tone of its own back.
type RTPPeer struct {
	t       testing.TB
	ip      string
	sipPort int
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	rtp     *net.UDPConn
	toneHz  float64

	mu      sync.Mutex
	remote  *net.UDPAddr
	samples []int16 // decoded PCMU received, the last maxKeep
	packets int
	session *sipgo.DialogClientSession
	offers  []string // bodies of the INVITEs received
	infos   []string // bodies of the INFOs received

	invites, acks, byes atomic.Int32

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const maxKeep = 8000 * 5

// StartRTPPeer starts a peer with SIP on ip:sipPort (UDP) and RTP on
// ip:rtpPort, sending a toneHz tone to whoever it talks to.
func StartRTPPeer(t testing.TB, ip string, sipPort, rtpPort int, toneHz float64) *RTPPeer {
	t.Helper()
	p := &RTPPeer{t: t, ip: ip, sipPort: sipPort, toneHz: toneHz}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("rtppeer"), sipgo.WithUserAgentHostname(ip),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	p.ua = ua
	if p.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	if p.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientPort(sipPort),
		sipgo.WithClientConnectionAddr(fmt.Sprintf("%s:%d", ip, sipPort)), sipgo.WithClientLogger(quiet)); err != nil {
		t.Fatal(err)
	}
	p.rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: rtpPort})
	if err != nil {
		t.Fatalf("rtp peer: %v", err)
	}
	pc, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", ip, sipPort))
	if err != nil {
		t.Fatalf("rtp peer sip: %v", err)
	}
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(func(*sip.Request, sip.ServerTransaction) { p.acks.Add(1) })
	p.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		p.infos = append(p.infos, string(req.Body()))
		p.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.byes.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.wg.Go(func() { _ = p.srv.ServeUDP(pc) })
	p.wg.Go(p.receive)
	p.wg.Go(p.send)
	t.Cleanup(func() {
		p.cancel()
		_ = p.rtp.Close()
		_ = pc.Close()
		_ = ua.Close()
		p.wg.Wait()
	})
	return p
}

// sdp is the peer's offer or answer: PCMU only.
func (p *RTPPeer) sdp() []byte {
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	return fmt.Appendf(nil, "v=0\r\no=rtppeer 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n", p.ip, p.ip, port)
}

var (
	sdpConnRE  = regexp.MustCompile(`(?m)^c=IN IP4 (\S+)`)
	sdpAudioRE = regexp.MustCompile(`(?m)^m=audio (\d+) (\S+)((?: \d+)*)`)
)

// setRemote points the peer's media at the SDP's audio address.
func (p *RTPPeer) setRemote(body []byte) error {
	c := sdpConnRE.FindSubmatch(body)
	m := sdpAudioRE.FindSubmatch(body)
	if c == nil || m == nil {
		return fmt.Errorf("no audio address in SDP:\n%s", body)
	}
	port, _ := strconv.Atoi(string(m[1]))
	p.mu.Lock()
	p.remote = &net.UDPAddr{IP: net.ParseIP(string(c[1])), Port: port}
	p.mu.Unlock()
	return nil
}

func (p *RTPPeer) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.invites.Add(1)
	p.mu.Lock()
	p.offers = append(p.offers, string(req.Body()))
	p.mu.Unlock()
	if err := p.setRemote(req.Body()); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", p.sdp())
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "peer", Host: p.ip, Port: p.sipPort}})
	_ = tx.Respond(res)
}

// Call places a call to user at sbcd's address sbc (ip:port) and waits
// for the answer; the call is ACKed and its media flows.
func (p *RTPPeer) Call(ctx context.Context, user, sbc string) error {
	host, port, err := net.SplitHostPort(sbc)
	if err != nil {
		return err
	}
	pn, _ := strconv.Atoi(port)
	dc := sipgo.NewDialogClientCache(p.cli, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "peer", Host: p.ip, Port: p.sipPort}})
	s, err := dc.Invite(ctx, sip.Uri{Scheme: "sip", User: user, Host: host, Port: pn}, p.sdp(),
		sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	if err := s.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if err := p.setRemote(s.InviteResponse.Body()); err != nil {
		return err
	}
	p.mu.Lock()
	p.session = s
	p.mu.Unlock()
	return s.Ack(ctx)
}

// Hangup sends BYE on the call Call placed.
func (p *RTPPeer) Hangup(ctx context.Context) error {
	p.mu.Lock()
	s := p.session
	p.mu.Unlock()
	if s == nil {
		return fmt.Errorf("no call")
	}
	return s.Bye(ctx)
}

func (p *RTPPeer) receive() {
	buf := make([]byte, 1500)
	pcm := make([]int16, 1500)
	for {
		n, _, err := p.rtp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[0]>>6 != 2 {
			continue
		}
		cc := int(buf[0] & 0x0f)
		hdr := 12 + 4*cc
		if buf[0]&0x10 != 0 && n >= hdr+4 {
			hdr += 4 + 4*int(binary.BigEndian.Uint16(buf[hdr+2:]))
		}
		if buf[1]&0x7f != 0 || n <= hdr {
			continue
		}
		k := codecs.UlawDecodeFrame(pcm, buf[hdr:n])
		p.mu.Lock()
		p.packets++
		p.samples = append(p.samples, pcm[:k]...)
		if len(p.samples) > maxKeep {
			p.samples = append(p.samples[:0], p.samples[len(p.samples)-maxKeep:]...)
		}
		p.mu.Unlock()
	}
}

func (p *RTPPeer) send() {
	tone, err := codecs.NewTone(8000, p.toneHz, -10)
	if err != nil {
		return
	}
	pcm := make([]int16, 160)
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	ssrc := uint32(0x5eed0001)
	binary.BigEndian.PutUint32(pkt[8:], ssrc)
	var seq uint16
	var ts uint32
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		dst := p.remote
		p.mu.Unlock()
		if dst == nil {
			continue
		}
		tone.Read(pcm)
		codecs.UlawEncodeFrame(pkt[12:], pcm)
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		seq++
		ts += 160
		_, _ = p.rtp.WriteToUDP(pkt, dst)
	}
}

// Offers returns the SDP bodies of the INVITEs received, in order.
func (p *RTPPeer) Offers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.offers...)
}

// Infos returns the bodies of the INFOs received, in order.
func (p *RTPPeer) Infos() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.infos...)
}

// Received returns the number of PCMU packets received and the share of
// the last second's audio energy that lies at freq (0..1).
func (p *RTPPeer) Received(freq float64) (packets int, share float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.samples
	if len(s) > 8000 {
		s = s[len(s)-8000:]
	}
	return p.packets, toneShare(s, freq, 8000)
}

// toneShare is the Goertzel power at freq relative to the signal's total
// power (1 for a pure tone at freq, near 0 for silence or another tone).
func toneShare(s []int16, freq float64, rate int) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range s {
		x := float64(v)
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
		total += x * x
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	// A pure sine of N samples gives power = (N·A/2)² and total = N·A²/2.
	return power * 2 / (float64(len(s)) * total)
}
