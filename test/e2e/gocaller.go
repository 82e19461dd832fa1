package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// GoCaller is a minimal SIP caller over UDP for tests that drive the media
// themselves (latching, a WebRTC peer) instead of leaving it to sipp. It
// places one call at a time from a fixed local address, retransmits its
// requests as RFC 3261 timer A/E would, and answers a BYE from sbcd.
type GoCaller struct {
	conn   *net.UDPConn
	ip     string
	port   int
	target *net.UDPAddr

	// Provisional, when set, is called with each provisional response to
	// an INVITE (1xx, retransmissions included), on the caller's own
	// goroutine, before the final response is returned.
	Provisional func(Message)

	callID, fromTag, toTag, user, remoteTarget string
	cseq                                       int
	msgs                                       chan Message
	byeIn                                      chan Message
	done                                       chan struct{}
}

// NewGoCaller makes a caller that sends from ip:port (port 0: any).
func NewGoCaller(ip string, port int) (*GoCaller, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		return nil, fmt.Errorf("go caller: %w", err)
	}
	port = conn.LocalAddr().(*net.UDPAddr).Port
	c := &GoCaller{conn: conn, ip: ip, port: port, msgs: make(chan Message, 64), byeIn: make(chan Message, 4), done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *GoCaller) read() {
	defer close(c.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := ParseMessage(string(buf[:n]))
		if err != nil {
			continue
		}
		if m.IsRequest() {
			if m.Method() == "BYE" {
				c.reply(m, from, 200, "OK")
				select {
				case c.byeIn <- m:
				default:
				}
			}
			continue
		}
		select {
		case c.msgs <- m:
		default:
		}
	}
}

func (c *GoCaller) reply(req Message, to *net.UDPAddr, code int, reason string) {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for _, v := range req.Headers(h) {
			fmt.Fprintf(&b, "%s: %s\r\n", h, v)
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	_, _ = c.conn.WriteToUDP([]byte(b.String()), to)
}

func token() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *GoCaller) request(method, ruri, branch string, cseq int, cseqMethod, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n", c.ip, c.port, branch)
	fmt.Fprintf(&b, "From: <sip:gocaller@%s:%d>;tag=%s\r\n", c.ip, c.port, c.fromTag)
	to := fmt.Sprintf("<sip:%s@%s>", c.user, c.target)
	if c.toTag != "" {
		to += ";tag=" + c.toTag
	}
	fmt.Fprintf(&b, "To: %s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", c.callID, cseq, cseqMethod)
	fmt.Fprintf(&b, "Contact: <sip:gocaller@%s:%d>\r\nMax-Forwards: 70\r\n", c.ip, c.port)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// transact sends a request until a final response for cseq/method arrives.
func (c *GoCaller) transact(ctx context.Context, msg []byte, cseq int, method string) (Message, error) {
	t := 500 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("%s: %w", method, ctx.Err())
		case <-timer.C:
			if _, err := c.conn.WriteToUDP(msg, c.target); err != nil {
				return Message{}, err
			}
			timer.Reset(t)
			t = min(2*t, 4*time.Second)
		case m := <-c.msgs:
			n, meth := m.CSeq()
			if n != cseq || meth != method {
				continue
			}
			if m.Status() < 200 {
				if c.Provisional != nil && method == "INVITE" {
					c.Provisional(m)
				}
				t = 4 * time.Second // provisional: stop hurrying
				continue
			}
			return m, nil
		}
	}
}

// Invite sends an INVITE with the SDP offer to user@target (host:port)
// and returns its final response, which it ACKs: a 2xx with the dialog's
// ACK (the call is then up), any other with the transaction's own.
func (c *GoCaller) Invite(ctx context.Context, user, target string, offer []byte) (Message, error) {
	addr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return Message{}, err
	}
	c.target, c.user = addr, user
	c.callID, c.fromTag, c.toTag, c.cseq = token()+"@gocaller", token(), "", 1
	ruri := fmt.Sprintf("sip:%s@%s", user, target)
	branch := token()
	res, err := c.transact(ctx, c.request("INVITE", ruri, branch, 1, "INVITE", string(offer)), 1, "INVITE")
	if err != nil {
		return Message{}, err
	}
	c.toTag = res.ToTag()
	if res.Status() >= 300 {
		// RFC 3261 17.1.1.3: the ACK of a failure is part of the INVITE
		// transaction (same branch and Request-URI); no dialog remains
		ack := c.request("ACK", ruri, branch, 1, "ACK", "")
		c.toTag = ""
		_, err := c.conn.WriteToUDP(ack, c.target)
		return res, err
	}
	c.remoteTarget = ruri
	if ct := res.Header("Contact"); ct != "" {
		if i, j := strings.Index(ct, "<"), strings.Index(ct, ">"); i >= 0 && j > i {
			c.remoteTarget = ct[i+1 : j]
		}
	}
	ack := c.request("ACK", c.remoteTarget, token(), 1, "ACK", "")
	_, err = c.conn.WriteToUDP(ack, c.target)
	return res, err
}

// Call places a call that must be answered 200 and returns the SDP answer.
func (c *GoCaller) Call(ctx context.Context, user, target string, offer []byte) ([]byte, error) {
	res, err := c.Invite(ctx, user, target, offer)
	if err != nil {
		return nil, err
	}
	if res.Status() != 200 {
		return nil, fmt.Errorf("INVITE answered %d", res.Status())
	}
	return []byte(res.Body), nil
}

// Options sends OPTIONS to target itself (host:port) and returns the answer.
func (c *GoCaller) Options(ctx context.Context, target string) (Message, error) {
	addr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return Message{}, err
	}
	c.target, c.user = addr, "sbc"
	c.callID, c.fromTag, c.toTag = token()+"@gocaller", token(), ""
	return c.transact(ctx, c.request("OPTIONS", "sip:"+target, token(), 1, "OPTIONS", ""), 1, "OPTIONS")
}

// Info sends an INFO with the given body type and extra header lines
// ("Name: value\r\n" each) on the current call and returns its final
// response.
func (c *GoCaller) Info(ctx context.Context, ctype, headers, body string) (Message, error) {
	if c.toTag == "" {
		return Message{}, errors.New("no call for INFO")
	}
	c.cseq++
	msg := string(c.request("INFO", c.remoteTarget, token(), c.cseq, "INFO", ""))
	msg = strings.TrimSuffix(msg, "Content-Length: 0\r\n\r\n") +
		fmt.Sprintf("%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", headers, ctype, len(body), body)
	return c.transact(ctx, []byte(msg), c.cseq, "INFO")
}

// Hangup sends BYE for the current call and waits for its 200.
func (c *GoCaller) Hangup(ctx context.Context) error {
	if c.toTag == "" {
		return errors.New("no call to hang up")
	}
	c.cseq++
	res, err := c.transact(ctx, c.request("BYE", c.remoteTarget, token(), c.cseq, "BYE", ""), c.cseq, "BYE")
	if err != nil {
		return err
	}
	if res.Status() != 200 {
		return fmt.Errorf("BYE answered %d", res.Status())
	}
	return nil
}

// WaitBye waits for sbcd to end the call with a BYE.
func (c *GoCaller) WaitBye(timeout time.Duration) (Message, error) {
	select {
	case m := <-c.byeIn:
		return m, nil
	case <-time.After(timeout):
		return Message{}, fmt.Errorf("%w: no BYE within %v", ErrTimeout, timeout)
	}
}

// Close releases the caller's socket.
func (c *GoCaller) Close() {
	_ = c.conn.Close()
	<-c.done
}

// CallID is the Call-ID of the current call.
func (c *GoCaller) CallID() string { return c.callID }
