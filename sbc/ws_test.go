package sbc

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// startWS runs a wsListener on loopback; accepted connections are read
// until the test ends and reported on the returned channel.
func startWS(t *testing.T, cfg policy.WebSocketConfig, onClose func(string, string)) (*wsListener, chan net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newWSListener(inner, nil, cfg, "access", "WS", slog.New(slog.DiscardHandler), onClose)
	accepted := make(chan net.Conn, 8)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	return l, accepted
}

func wsConfig() policy.WebSocketConfig {
	return policy.WebSocketConfig{Origins: []string{"https://phone.example.com"}, MaxConnections: 2,
		IdleTimeout: time.Minute, HandshakeTimeout: 500 * time.Millisecond}
}

const upgrade = "GET / HTTP/1.1\r\nHost: sbc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// handshake sends an upgrade request and returns the HTTP status sbcd
// answered with (0 if the connection was handed on without an answer).
func handshake(t *testing.T, addr, extra string) (int, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, upgrade+extra+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, c
	}
	res.Body.Close()
	return res.StatusCode, c
}

func TestWSHandshakeChecks(t *testing.T) {
	tests := []struct {
		name   string
		extra  string
		status int // 0: handed to SIP
		stat   func(WSStats) uint64
	}{
		{"browser from an allowed origin", "Sec-WebSocket-Protocol: sip\r\nOrigin: https://phone.example.com\r\n", 0,
			func(s WSStats) uint64 { return s.Accepted }},
		{"SIP client without origin", "Sec-WebSocket-Protocol: sip\r\n", 0,
			func(s WSStats) uint64 { return s.Accepted }},
		{"sip among several subprotocols", "Sec-WebSocket-Protocol: chat, SIP\r\n", 0,
			func(s WSStats) uint64 { return s.Accepted }},
		{"foreign origin", "Sec-WebSocket-Protocol: sip\r\nOrigin: https://evil.example\r\n", http.StatusForbidden,
			func(s WSStats) uint64 { return s.RefusedOrigin }},
		{"no sip subprotocol", "Sec-WebSocket-Protocol: chat\r\n", http.StatusBadRequest,
			func(s WSStats) uint64 { return s.RefusedProtocol }},
		{"no subprotocol at all", "", http.StatusBadRequest,
			func(s WSStats) uint64 { return s.RefusedProtocol }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, accepted := startWS(t, wsConfig(), nil)
			status, _ := handshake(t, l.Addr().String(), tt.extra)
			if status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
			if tt.status == 0 {
				select {
				case c := <-accepted:
					// SIP sees the upgrade request itself first.
					buf := make([]byte, len("GET / HTTP/1.1"))
					if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "GET / HTTP/1.1" {
						t.Fatalf("replayed %q, %v", buf, err)
					}
				case <-time.After(time.Second):
					t.Fatal("connection not handed on")
				}
			}
			if got := tt.stat(l.stats()); got != 1 {
				t.Errorf("counter = %d, want 1 (%+v)", got, l.stats())
			}
		})
	}
}

func TestWSRefusesGarbage(t *testing.T) {
	l, _ := startWS(t, wsConfig(), nil)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "INVITE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/WS x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("response %v, %v; want 400", res, err)
	}
	if l.stats().RefusedBad != 1 {
		t.Errorf("stats %+v", l.stats())
	}
}

func TestWSSlowHandshakeTimesOut(t *testing.T) {
	l, accepted := startWS(t, wsConfig(), nil)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n") // and nothing more
	// At the handshake timeout the connection is closed without a word.
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(make([]byte, 100))
	if err != io.EOF || n != 0 {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %s, want about the 500ms handshake timeout", d)
	}
	select {
	case <-accepted:
		t.Fatal("a slow handshake reached SIP")
	default:
	}
	if st := l.stats(); st.Open != 0 || st.RefusedBad != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestWSConnectionLimitAndClose(t *testing.T) {
	var mu sync.Mutex
	var closed []string
	l, accepted := startWS(t, wsConfig(), func(tp, raddr string) {
		mu.Lock()
		closed = append(closed, tp+" "+raddr)
		mu.Unlock()
	})
	addr := l.Addr().String()
	var conns []net.Conn
	for range 2 {
		if status, _ := handshake(t, addr, "Sec-WebSocket-Protocol: sip\r\n"); status != 0 {
			t.Fatalf("status %d", status)
		}
		conns = append(conns, <-accepted)
	}
	if status, _ := handshake(t, addr, "Sec-WebSocket-Protocol: sip\r\n"); status != http.StatusServiceUnavailable {
		t.Fatalf("third connection: status %d, want 503", status)
	}
	if st := l.stats(); st.Open != 2 || st.RefusedLimit != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Closing one (twice: close is idempotent) makes room and is reported once.
	_ = conns[0].Close()
	_ = conns[0].Close()
	mu.Lock()
	n := len(closed)
	first := ""
	if n > 0 {
		first = closed[0]
	}
	mu.Unlock()
	if n != 1 || !strings.HasPrefix(first, "WS 127.0.0.1:") {
		t.Fatalf("close reports %v", closed)
	}
	if status, _ := handshake(t, addr, "Sec-WebSocket-Protocol: sip\r\n"); status != 0 {
		t.Fatalf("after a close: status %d", status)
	}
	<-accepted
}

func TestWSIdleTimeout(t *testing.T) {
	cfg := wsConfig()
	cfg.IdleTimeout = 200 * time.Millisecond
	l, accepted := startWS(t, cfg, nil)
	_, client := handshake(t, l.Addr().String(), "Sec-WebSocket-Protocol: sip\r\n")
	c := <-accepted
	buf := make([]byte, 4096)
	_, _ = c.Read(buf) // the replayed upgrade request
	// Data keeps the connection open...
	go func() {
		for range 3 {
			time.Sleep(100 * time.Millisecond)
			_, _ = client.Write([]byte("x"))
		}
	}()
	for range 3 {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("read while the client talks: %v", err)
		}
	}
	// ...silence closes it.
	start := time.Now()
	if _, err := c.Read(buf); err == nil {
		t.Fatal("read succeeded on a silent connection")
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %s, want about 200ms", d)
	}
	if st := l.stats(); st.IdleClosed != 1 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRegistrarDropSource(t *testing.T) {
	r := newRegistrar()
	exp := time.Now().Add(time.Hour)
	r.update("access", "alice", []binding{{source: "127.0.0.1:5000", transport: "WS", expires: exp}}, nil, false)
	r.update("access", "bob", []binding{{source: "127.0.0.1:5001", transport: "WS", expires: exp}}, nil, false)
	r.update("core", "alice", []binding{{source: "127.0.0.1:5000", transport: "WS", expires: exp}}, nil, false)
	if n := r.dropSource("access", "ws", "127.0.0.1:5000"); n != 1 {
		t.Fatalf("dropped %d, want 1", n)
	}
	if len(r.lookup("access", "alice")) != 0 || len(r.lookup("access", "bob")) != 1 || len(r.lookup("core", "alice")) != 1 {
		t.Errorf("bindings left: %+v", r.list())
	}
}

func TestWebRTCSRTP(t *testing.T) {
	for _, tt := range []struct{ srtp, transport, want string }{
		{"optional", "WS", "webrtc"}, {"", "WSS", "webrtc"}, {"optional", "UDP", "optional"},
		{"none", "WS", "none"}, {"sdes", "WSS", "sdes"},
	} {
		if got := webrtcSRTP(tt.srtp, tt.transport); got != tt.want {
			t.Errorf("webrtcSRTP(%q, %q) = %q, want %q", tt.srtp, tt.transport, got, tt.want)
		}
	}
}
