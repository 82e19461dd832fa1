package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// tcpPhone is a phone registered over its own TCP connection.
type tcpPhone struct {
	t    *testing.T
	conn net.Conn
	msgs chan sip.Message
	crlf atomic.Int64
}

func dialTCPPhone(t *testing.T, local, remote string) *tcpPhone {
	t.Helper()
	la, err := net.ResolveTCPAddr("tcp", local)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: la, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", remote)
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpPhone{t: t, conn: c, msgs: make(chan sip.Message, 64)}
	done := make(chan struct{})
	go func() { defer close(done); p.read() }()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

// read splits the stream into messages by Content-Length and counts the
// CRLF keep-alives between them.
func (p *tcpPhone) read() {
	r := bufio.NewReader(p.conn)
	for {
		b, err := r.Peek(2)
		if err != nil {
			return
		}
		if b[0] == '\r' && b[1] == '\n' {
			_, _ = r.Discard(2)
			if b, err := r.Peek(2); err == nil && b[0] == '\r' && b[1] == '\n' {
				_, _ = r.Discard(2)
				p.crlf.Add(1)
			}
			continue
		}
		var head strings.Builder
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		m, err := sip.NewParser().ParseSIP(append([]byte(head.String()), body...))
		if err != nil {
			p.t.Errorf("tcp phone: unparsable message: %v", err)
			continue
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 100 {
			continue
		}
		p.msgs <- m
	}
}

func (p *tcpPhone) send(msg string) {
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	if _, err := p.conn.Write([]byte(msg)); err != nil {
		p.t.Errorf("tcp phone: %v", err)
	}
}

func (p *tcpPhone) next(what string, timeout time.Duration) sip.Message {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(timeout):
		p.t.Fatalf("tcp phone: no %s within %v", what, timeout)
		return nil
	}
}

// TestRegisterOverTCPCallComesBackOnTheConnection: a phone registers over
// TCP; sbcd keeps its connection alive with CRLF and a call for the user
// arrives over that very connection (the phone accepts no connections).
func TestRegisterOverTCPCallComesBackOnTheConnection(t *testing.T) {
	t.Parallel()
	const net = 66
	topo := Topology{Net: net}
	e := newEnv(t, net, func(c *policy.Config) {
		c.Realms[0].Listeners = append(c.Realms[0].Listeners, policy.ListenerConfig{Transport: "tcp", Address: topo.AccessSIP()})
		withRegisteredUsers(func(r *policy.RealmConfig) {
			r.Registration.KeepAlive = time.Second
		})(c)
	})
	ph := dialTCPPhone(t, fmt.Sprintf("%s:0", topo.CallerIP(0)), topo.AccessSIP())
	ph.send(fmt.Sprintf(`
REGISTER sip:%s SIP/2.0
Via: SIP/2.0/TCP 192.168.77.20:5062;branch=z9hG4bK-tcp-1;rport
From: <sip:carol@%s>;tag=tcp1
To: <sip:carol@%s>
Call-ID: tcp-reg-1
CSeq: 1 REGISTER
Contact: <sip:carol@192.168.77.20:5062;transport=tcp>
Expires: 300
Max-Forwards: 70
Content-Length: 0

`, topo.AccessIP(), topo.AccessIP(), topo.AccessIP()))
	if res, ok := ph.next("200 to REGISTER", 5*time.Second).(*sip.Response); !ok || res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP: %v", res)
	}
	waitFor(t, "CRLF keep-alives on the connection", 5*time.Second, func() bool { return ph.crlf.Load() >= 2 })

	caller := StartSipp(t, SippOpts{Name: "caller", Scenario: "uac_basic.xml", LocalIP: topo.GatewayIP(0), LocalPort: GatewayPort,
		Remote: topo.CoreSIP(), Service: "carol", Timeout: 20 * time.Second, Dir: e.dir})
	inv, ok := ph.next("INVITE", 10*time.Second).(*sip.Request)
	if !ok || inv.Method != sip.INVITE {
		t.Fatalf("want INVITE over the phone's connection, got %v", inv)
	}
	if v := inv.Via(); v == nil || v.Transport != "TCP" {
		t.Errorf("INVITE Via %v, want TCP", inv.Via())
	}
	sdp := fmt.Sprintf("v=0\no=carol 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio 6000 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n", topo.CallerIP(0), topo.CallerIP(0))
	answer := func(req *sip.Request, code int, body string) {
		var b strings.Builder
		fmt.Fprintf(&b, "SIP/2.0 %d OK\n", code)
		for _, h := range req.GetHeaders("Via") {
			fmt.Fprintf(&b, "Via: %s\n", h.Value())
		}
		to := req.To().Value()
		if _, ok := req.To().Params.Get("tag"); !ok {
			to += ";tag=carol1"
		}
		fmt.Fprintf(&b, "From: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\nContact: <sip:carol@192.168.77.20:5062;transport=tcp>\n",
			req.From().Value(), to, req.CallID().Value(), req.CSeq().Value())
		if body != "" {
			b.WriteString("Content-Type: application/sdp\n")
		}
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(strings.ReplaceAll(body, "\n", "\r\n")), body)
		ph.send(b.String())
	}
	answer(inv, 200, sdp)
	for {
		m := ph.next("ACK and BYE", 15*time.Second)
		req, ok := m.(*sip.Request)
		if !ok {
			continue
		}
		if req.Method == sip.BYE {
			answer(req, 200, "")
			break
		}
	}
	wantExit0(t, caller.Wait(t))
}
