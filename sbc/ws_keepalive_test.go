package sbc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/openborder/openborder/policy"
)

// sipSide plays sipgo on an accepted connection: it upgrades it, reads
// frames the way sipgo does (a control frame's header is skipped, its
// payload is not read) and echoes every text frame back, writing header
// and payload separately as sipgo's writer does.
func sipSide(t *testing.T, c net.Conn, got chan<- string) {
	t.Helper()
	if _, err := (ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "sip" }}).Upgrade(c); err != nil {
		t.Errorf("upgrade: %v", err)
		return
	}
	for {
		h, err := ws.ReadHeader(c)
		if err != nil {
			close(got)
			return
		}
		if h.OpCode.IsControl() {
			if h.OpCode == ws.OpClose {
				close(got)
				return
			}
			continue // sipgo: the payload stays in the stream
		}
		data := make([]byte, h.Length)
		if _, err := io.ReadFull(c, data); err != nil {
			close(got)
			return
		}
		if h.Masked {
			ws.Cipher(data, h.Mask, 0)
		}
		got <- string(data)
		if err := ws.WriteFrame(c, ws.NewTextFrame(data)); err != nil {
			close(got)
			return
		}
	}
}

// wsClient is a browser-like WebSocket client that answers Pings while
// answer is set.
type wsClient struct {
	conn   net.Conn
	r      io.Reader
	answer atomic.Bool
	pings  atomic.Int64
	mu     sync.Mutex
	texts  []string
	pongs  [][]byte
	done   chan struct{}
}

func dialWS(t *testing.T, addr string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{Protocols: []string{"sip"}}.Dial(ctx, "ws://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{conn: conn, r: conn, done: make(chan struct{})}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	c.answer.Store(true)
	go c.read()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		f, err := ws.ReadFrame(c.r)
		if err != nil {
			return
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			c.pings.Add(1)
			if c.answer.Load() {
				c.write(ws.NewPongFrame(f.Payload))
			}
		case ws.OpPong:
			c.mu.Lock()
			c.pongs = append(c.pongs, f.Payload)
			c.mu.Unlock()
		case ws.OpText:
			c.mu.Lock()
			c.texts = append(c.texts, string(f.Payload))
			c.mu.Unlock()
		}
	}
}

var clientWriteMu sync.Mutex

func (c *wsClient) write(f ws.Frame) {
	clientWriteMu.Lock()
	defer clientWriteMu.Unlock()
	_ = ws.WriteFrame(c.conn, ws.MaskFrameInPlace(f))
}

func (c *wsClient) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func keepaliveConfig() policy.WebSocketConfig {
	cfg := wsConfig()
	cfg.PingInterval = 150 * time.Millisecond
	cfg.PongTimeout = 200 * time.Millisecond
	return cfg
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, timeout)
}

func TestWSKeepalive(t *testing.T) {
	var closedMu sync.Mutex
	var closedAddrs []string
	l, accepted := startWS(t, keepaliveConfig(), func(_, raddr string) {
		closedMu.Lock()
		closedAddrs = append(closedAddrs, raddr)
		closedMu.Unlock()
	})
	got := make(chan string, 64)
	go func() { sipSide(t, <-accepted, got) }()
	client := dialWS(t, l.Addr().String())

	// A silent connection is pinged; answering keeps it open through
	// several pong timeouts while SIP flows both ways between the pings.
	for i := range 8 {
		client.write(ws.NewTextFrame([]byte("OPTIONS " + string(rune('a'+i)))))
		time.Sleep(120 * time.Millisecond)
	}
	eventually(t, "pings", time.Second, func() bool { return client.pings.Load() >= 3 })
	if client.closed() {
		t.Fatal("connection closed although the client answered every ping")
	}
	for i := range 8 {
		want := "OPTIONS " + string(rune('a'+i))
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("SIP side read %q, want %q (stream out of step)", s, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("SIP side did not get %q", want)
		}
	}
	eventually(t, "echoes", time.Second, func() bool {
		client.mu.Lock()
		defer client.mu.Unlock()
		return len(client.texts) == 8
	})
	if st := l.stats(); st.PingsSent < 3 || st.PongTimeouts != 0 || st.Open != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The client stops answering: the connection is closed once the pong
	// timeout passes, and the flow is reported closed.
	client.answer.Store(false)
	start := time.Now()
	eventually(t, "close after the missing pong", 2*time.Second, client.closed)
	if d := time.Since(start); d > time.Second {
		t.Errorf("closed after %s, want within ping interval + pong timeout (350ms) and a tick", d)
	}
	closedMu.Lock()
	n := len(closedAddrs)
	closedMu.Unlock()
	if n != 1 {
		t.Errorf("%d close reports, want 1", n)
	}
	if st := l.stats(); st.PongTimeouts != 1 || st.Open != 0 || st.IdleClosed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWSClientPing: a client's Ping with a payload is answered with a Pong
// echoing it, and SIP after it arrives intact (sipgo alone would read the
// Ping's payload as the next frame).
func TestWSClientPing(t *testing.T) {
	cfg := keepaliveConfig()
	cfg.PingInterval = time.Minute
	l, accepted := startWS(t, cfg, nil)
	got := make(chan string, 4)
	go func() { sipSide(t, <-accepted, got) }()
	client := dialWS(t, l.Addr().String())
	client.write(ws.NewPingFrame([]byte("are you there")))
	client.write(ws.NewTextFrame([]byte("REGISTER sip:x SIP/2.0")))
	select {
	case s := <-got:
		if s != "REGISTER sip:x SIP/2.0" {
			t.Fatalf("SIP side read %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("SIP side got nothing")
	}
	eventually(t, "pong", time.Second, func() bool {
		client.mu.Lock()
		defer client.mu.Unlock()
		return len(client.pongs) == 1
	})
	client.mu.Lock()
	defer client.mu.Unlock()
	if string(client.pongs[0]) != "are you there" {
		t.Errorf("pong payload %q", client.pongs[0])
	}
}

func TestWSMalformedControlFrame(t *testing.T) {
	l, accepted := startWS(t, keepaliveConfig(), nil)
	got := make(chan string, 4)
	go func() { sipSide(t, <-accepted, got) }()
	client := dialWS(t, l.Addr().String())
	// A Ping longer than 125 bytes is a protocol error: the connection goes.
	client.write(ws.NewPingFrame(bytes.Repeat([]byte("x"), 200)))
	eventually(t, "close", 2*time.Second, client.closed)
	if st := l.stats(); st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFrameTracker(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
	frame := func(n int) []byte {
		var b bytes.Buffer
		_ = ws.WriteFrame(&b, ws.NewTextFrame(bytes.Repeat([]byte("s"), n)))
		return b.Bytes()
	}
	tests := []struct {
		name   string
		writes [][]byte
		want   bool
	}{
		{"before the upgrade", nil, false},
		{"head split in the blank line", [][]byte{[]byte(head[:len(head)-3]), []byte(head[len(head)-3:])}, true},
		{"short frame whole", [][]byte{[]byte(head), frame(10)}, true},
		{"header written, payload not", [][]byte{[]byte(head), frame(10)[:2]}, false},
		{"16-bit length, payload half", [][]byte{[]byte(head), frame(300)[:150]}, false},
		{"16-bit length, whole", [][]byte{[]byte(head), frame(300)[:4], frame(300)[4:]}, true},
		{"64-bit length, header split", [][]byte{[]byte(head), frame(70000)[:5]}, false},
		{"64-bit length, whole in pieces", [][]byte{[]byte(head), frame(70000)[:5], frame(70000)[5:10], frame(70000)[10:]}, true},
		{"two frames in one write", [][]byte{[]byte(head), append(frame(3), frame(200)...)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ft frameTracker
			for _, w := range tt.writes {
				ft.wrote(w)
			}
			if got := ft.atBoundary(); got != tt.want {
				t.Errorf("atBoundary = %v, want %v (%+v)", got, tt.want, ft)
			}
		})
	}
}

// memConn is a net.Conn that reads from a fixed input and discards writes.
type memConn struct {
	net.Conn
	r io.Reader
}

func (m *memConn) Read(p []byte) (int, error)       { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

func newFilterConn(l *wsListener, in []byte) *wsConn {
	return filterConn(l, &memConn{r: bytes.NewReader(in)})
}

func filterConn(l *wsListener, raw net.Conn) *wsConn {
	c := &wsConn{Conn: raw, l: l, filter: true}
	c.cond = sync.NewCond(&c.wmu)
	c.out.upgraded = true
	l.open.Add(1)
	return c
}

// FuzzWSFilter: whatever a client sends, the filter neither panics nor
// hangs, and a well-formed stream of text frames with Pings between them
// passes through unchanged but for the Pings.
func FuzzWSFilter(f *testing.F) {
	var seed bytes.Buffer
	_ = ws.WriteFrame(&seed, ws.MaskFrame(ws.NewTextFrame([]byte("INVITE"))))
	_ = ws.WriteFrame(&seed, ws.MaskFrame(ws.NewPingFrame([]byte("p"))))
	_ = ws.WriteFrame(&seed, ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte("B"), 300))))
	f.Add(seed.Bytes())
	f.Add([]byte{0x89, 0xfe, 0, 0})
	f.Add([]byte{0x8a, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	l := &wsListener{cfg: wsConfig(), conns: map[*wsConn]struct{}{}}
	l.cfg.IdleTimeout = time.Second
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newFilterConn(l, in)
		out, err := io.ReadAll(readerFunc(c.Read))
		if err != nil && !errors.Is(err, errWSControl) {
			t.Fatalf("read: %v", err)
		}
		if len(out) > len(in) {
			t.Fatalf("filter produced %d bytes from %d", len(out), len(in))
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestWSFilterPassesFrames(t *testing.T) {
	var in, want bytes.Buffer
	for i, n := range []int{6, 300, 70000} {
		var fr bytes.Buffer
		_ = ws.WriteFrame(&fr, ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte{byte('a' + i)}, n))))
		in.Write(fr.Bytes())
		want.Write(fr.Bytes())
		_ = ws.WriteFrame(&in, ws.MaskFrame(ws.NewPongFrame([]byte("pong"))))
		_ = ws.WriteFrame(&in, ws.MaskFrame(ws.NewPingFrame(nil)))
	}
	l := &wsListener{cfg: wsConfig(), conns: map[*wsConn]struct{}{}}
	c := newFilterConn(l, in.Bytes())
	c.pingSent.Store(1)
	out, err := io.ReadAll(readerFunc(c.Read))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want.Bytes()) {
		t.Fatalf("filtered stream differs: %d bytes, want %d", len(out), want.Len())
	}
	if c.pingSent.Load() != 0 {
		t.Error("a Pong did not clear the outstanding Ping")
	}
}
