//go:build linux && cgo

package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
)

// uas is the SIP side: it answers every INVITE with PCMU on a socket of
// its own, answers BYE, and sends and counts the calls' RTP.
type uas struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	legs  map[string]*leg // by Call-ID
	order []*leg
	wg    sync.WaitGroup
}

type leg struct {
	sock   *net.UDPConn
	remote *net.UDPAddr
	in     stream
	seq    uint16
	ts     uint32
	ssrc   uint32
	pkt    []byte
}

func newUAS() (*uas, error) {
	addr, err := net.ResolveUDPAddr("udp4", uasAddr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("SIP side: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	u := &uas{conn: conn, legs: map[string]*leg{}}
	u.wg.Go(u.serve)
	return u, nil
}

func (u *uas) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		req, ok := m.(*sip.Request)
		if !ok {
			continue
		}
		switch req.Method {
		case sip.INVITE:
			u.invite(req, from)
		case sip.BYE:
			u.reply(req, from, 200, "OK", "")
		case sip.ACK:
		default:
			u.reply(req, from, 200, "OK", "")
		}
	}
}

func (u *uas) invite(req *sip.Request, from *net.UDPAddr) {
	id := req.CallID().Value()
	u.mu.Lock()
	l := u.legs[id]
	if l == nil {
		sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(peerIP)})
		if err != nil {
			u.mu.Unlock()
			u.reply(req, from, 503, "No Media Port", "")
			return
		}
		l = &leg{sock: sock, ssrc: uint32(len(u.order) + 1), pkt: make([]byte, 12+160)}
		if verbose {
			fmt.Fprintf(os.Stderr, "offer to the SIP side:\n%s\n", req.Body())
		}
		if l.remote = offerAddr(string(req.Body())); l.remote == nil {
			sock.Close()
			u.mu.Unlock()
			u.reply(req, from, 488, "Not Acceptable Here", "")
			return
		}
		u.legs[id] = l
		u.order = append(u.order, l)
		u.wg.Go(func() {
			b := make([]byte, 1500)
			for {
				if _, err := l.sock.Read(b); err != nil {
					return
				}
				l.in.got(time.Now().UnixNano())
			}
		})
	}
	u.mu.Unlock()
	port := l.sock.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n", peerIP, port)
	u.reply(req, from, 200, "OK", sdp)
}

// offerAddr returns the audio address of an SDP offer.
func offerAddr(sdp string) *net.UDPAddr {
	var ip string
	var port int
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "c=IN IP4 ") {
			ip = strings.TrimPrefix(line, "c=IN IP4 ")
		}
		if strings.HasPrefix(line, "m=audio ") {
			_, _ = fmt.Sscanf(line, "m=audio %d", &port)
		}
	}
	if ip == "" || port == 0 {
		return nil
	}
	return &net.UDPAddr{IP: net.ParseIP(ip), Port: port}
}

func (u *uas) reply(req *sip.Request, to *net.UDPAddr, code int, reason, sdp string) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code >= 200 && res.To() != nil {
		if _, ok := res.To().Params.Get("tag"); !ok {
			res.To().Params.Add("tag", "uas"+strings.ReplaceAll(req.CallID().Value(), "@", "."))
		}
	}
	if sdp != "" {
		res.AppendHeader(sip.NewHeader("Contact", "<sip:uas@"+uasAddr+">"))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(sdp))
	}
	_, _ = u.conn.WriteToUDP([]byte(res.String()), to)
}

// send sends one PCMU frame on every leg and returns how many went out.
func (u *uas) send(payload []byte) int {
	u.mu.Lock()
	legs := u.order
	u.mu.Unlock()
	n := 0
	for _, l := range legs {
		h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: l.seq, Timestamp: l.ts, SSRC: l.ssrc}
		l.seq++
		l.ts += 160
		k, err := h.MarshalTo(l.pkt)
		if err != nil {
			continue
		}
		copy(l.pkt[k:], payload)
		if _, err := l.sock.WriteToUDP(l.pkt[:k+len(payload)], l.remote); err == nil {
			n++
		}
	}
	return n
}

func (u *uas) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.order {
		l.in.received.Store(0)
		l.in.late.Store(0)
	}
}

func (u *uas) counts() (received, late uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.order {
		received += l.in.received.Load()
		late += l.in.late.Load()
	}
	return received, late
}

func (u *uas) close() {
	_ = u.conn.Close()
	u.mu.Lock()
	for _, l := range u.order {
		_ = l.sock.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}
