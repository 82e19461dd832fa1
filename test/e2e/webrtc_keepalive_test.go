package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/openborder/openborder/policy"
)

// wsPhone is a SIP over WebSocket client in Go: it registers, answers
// sbcd's keep-alive Pings while answerPings is set, and answers every
// INVITE it receives with 486.
type wsPhone struct {
	conn        net.Conn
	r           io.Reader
	wmu         sync.Mutex
	answerPings atomic.Bool
	pings       atomic.Int64
	msgs        chan Message
	done        chan struct{}
}

func dialWSPhone(t *testing.T, url string) *wsPhone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("websocket %s: %v", url, err)
	}
	p := &wsPhone{conn: conn, r: conn, msgs: make(chan Message, 16), done: make(chan struct{})}
	if br != nil {
		p.r = io.MultiReader(br, conn)
	}
	p.answerPings.Store(true)
	go p.read()
	t.Cleanup(func() { conn.Close(); <-p.done })
	return p
}

func (p *wsPhone) write(f ws.Frame) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return ws.WriteFrame(p.conn, ws.MaskFrameInPlace(f))
}

func (p *wsPhone) read() {
	defer close(p.done)
	for {
		f, err := ws.ReadFrame(p.r)
		if err != nil {
			return
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			p.pings.Add(1)
			if p.answerPings.Load() {
				_ = p.write(ws.NewPongFrame(f.Payload))
			}
		case ws.OpText:
			m, err := ParseMessage(string(f.Payload))
			if err != nil {
				continue
			}
			if m.IsRequest() && m.Method() == "INVITE" {
				_ = p.write(ws.NewTextFrame([]byte(wsReply(m, 486, "Busy Here"))))
			}
			select {
			case p.msgs <- m:
			default:
			}
		}
	}
}

// wsReply builds a response to req.
func wsReply(req Message, code int, reason string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.Headers("Via") {
		fmt.Fprintf(&b, "Via: %s\r\n", v)
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s;tag=wsphone\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
		req.Header("From"), req.Header("To"), req.CallID(), req.Header("CSeq"))
	return b.String()
}

// register sends REGISTER for user and waits for its final response.
func (p *wsPhone) register(t *testing.T, user, domain string) Message {
	t.Helper()
	req := fmt.Sprintf("REGISTER sip:%[2]s SIP/2.0\r\nVia: SIP/2.0/WS ws-phone.invalid;branch=z9hG4bK%[3]s\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:%[1]s@%[2]s>;tag=%[3]s\r\nTo: <sip:%[1]s@%[2]s>\r\nCall-ID: %[3]s@ws-phone\r\n"+
		"CSeq: 1 REGISTER\r\nContact: <sip:%[1]s@ws-phone.invalid;transport=ws>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
		user, domain, token())
	if err := p.write(ws.NewTextFrame([]byte(req))); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-p.msgs:
			if !m.IsRequest() && m.Status() >= 200 {
				return m
			}
		case <-timeout:
			t.Fatal("no final response to REGISTER")
		}
	}
}

func (p *wsPhone) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestWebSocketKeepalive: sbcd pings a registered WebSocket client that
// has gone quiet; while the client answers, calls from the SIP side reach
// it over its own connection; when its Pongs stop, sbcd closes the
// connection and drops the registration (RFC 5626 flow failure), and calls
// to the user are refused.
func TestWebSocketKeepalive(t *testing.T) {
	t.Parallel()
	const net = 105
	topo := Topology{Net: net}
	admin := fmt.Sprintf("127.%d.3.1:8080", net)
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin.Address = admin
		r := &c.Realms[0]
		r.Registrar = true
		r.Listeners = append(r.Listeners, policy.ListenerConfig{Transport: "ws",
			Address: fmt.Sprintf("%s:%d", topo.AccessIP(), wsPort),
			WebSocket: policy.WebSocketConfig{PingInterval: 300 * time.Millisecond,
				PongTimeout: time.Second}})
		c.Routes = append(c.Routes, policy.RouteConfig{Name: "core-in",
			Match: policy.MatchConfig{SourceRealm: "core"}, Registered: "access"})
	})
	p := dialWSPhone(t, fmt.Sprintf("ws://%s:%d", topo.AccessIP(), wsPort))
	if res := p.register(t, "dave", topo.AccessIP()); res.Status() != 200 {
		t.Fatalf("REGISTER answered %d", res.Status())
	}
	caller, err := NewGoCaller(topo.GatewayIP(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	call := func() int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		offer := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
			topo.GatewayIP(0), CalleeMediaPort)
		res, err := caller.Invite(ctx, "dave", topo.CoreSIP(), []byte(offer))
		if err != nil {
			t.Fatalf("INVITE from the SIP side: %v", err)
		}
		return res.Status()
	}

	// Quiet but answering: pinged, kept, and reachable over its connection.
	time.Sleep(1500 * time.Millisecond)
	if n := p.pings.Load(); n < 2 {
		t.Errorf("%d pings in 1.5 s of silence with a 300ms ping interval, want at least 2", n)
	}
	if p.closed() {
		t.Fatal("sbcd closed a connection that answered its pings")
	}
	if code := call(); code != 486 {
		t.Errorf("call to the registered WebSocket user answered %d, want the client's 486", code)
	}

	// The client stops answering: the flow fails, the binding goes.
	p.answerPings.Store(false)
	waitFor(t, "sbcd closes the silent connection", 3*time.Second, p.closed)
	if _, err := e.sbcd.WaitMsg("websocket keep-alive failed, closing", 2*time.Second); err != nil {
		t.Error(err)
	}
	l, err := e.sbcd.WaitMsg("websocket closed, registrations dropped", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Int("bindings"); n != 1 {
		t.Errorf("dropped %d bindings, want 1", n)
	}
	if code := call(); code < 400 || code == 486 {
		t.Errorf("call after the flow failed answered %d, want a refusal from sbcd", code)
	}
	te := &turnEnv{env: e, admin: admin}
	if v := te.metric(t, "openborder_websocket_refusals_total", `reason="pong_timeout"`); v != 1 {
		t.Errorf("pong_timeout closes = %v, want 1", v)
	}
	if v := te.metric(t, "openborder_websocket_pings_total", `transport="WS"`); v < 2 {
		t.Errorf("pings sent = %v, want at least 2", v)
	}
}
