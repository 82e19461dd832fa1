package snmp

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeMaster is an in-process AgentX master on a unix socket.
type fakeMaster struct {
	t    *testing.T
	ln   *net.UnixListener
	path string
}

func newFakeMaster(t *testing.T) *fakeMaster {
	t.Helper()
	dir, err := os.MkdirTemp("", "agentx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "master")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeMaster{t: t, ln: ln, path: path}
}

type masterConn struct {
	t   *testing.T
	c   net.Conn
	sid uint32
}

func (m *fakeMaster) accept() *masterConn {
	m.t.Helper()
	_ = m.ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := m.ln.Accept()
	if err != nil {
		m.t.Fatalf("agent did not connect: %v", err)
	}
	m.t.Cleanup(func() { c.Close() })
	return &masterConn{t: m.t, c: c, sid: 4242}
}

func (c *masterConn) read() *PDU {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := ReadPDU(c.c)
	if err != nil {
		c.t.Fatalf("master read: %v", err)
	}
	return p
}

func (c *masterConn) write(p *PDU) {
	c.t.Helper()
	b, err := p.Encode(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeRaw(b)
}

func (c *masterConn) writeRaw(b []byte) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatalf("master write: %v", err)
	}
}

func (c *masterConn) respond(req *PDU, code uint16) {
	c.t.Helper()
	c.write(&PDU{Header: Header{Type: PDUResponse, Flags: FlagNetworkByteOrder, SessionID: c.sid,
		TransactionID: req.TransactionID, PacketID: req.PacketID}, Error: code})
}

// handshake answers the agent's Open and Register and returns them.
func (c *masterConn) handshake() (open, reg *PDU) {
	c.t.Helper()
	open = c.read()
	if open.Type != PDUOpen {
		c.t.Fatalf("first pdu %s, want Open", open.Type)
	}
	c.respond(open, ErrCodeNone)
	reg = c.read()
	if reg.Type != PDURegister {
		c.t.Fatalf("second pdu %s, want Register", reg.Type)
	}
	c.respond(reg, ErrCodeNone)
	return open, reg
}

// request sends a master request and returns the agent's response.
func (c *masterConn) request(p *PDU) *PDU {
	c.t.Helper()
	p.SessionID = c.sid
	c.write(p)
	r := c.read()
	if r.Type != PDUResponse || r.PacketID != p.PacketID || r.TransactionID != p.TransactionID || r.SessionID != c.sid {
		c.t.Fatalf("response header %+v does not match request %+v", r.Header, p.Header)
	}
	if r.Flags&FlagNetworkByteOrder != p.Flags&FlagNetworkByteOrder {
		c.t.Fatalf("response byte order flag %#x, request %#x", r.Flags, p.Flags)
	}
	return r
}

func testConfig(m *fakeMaster) Config {
	return Config{
		Address:      "unix:" + m.path,
		Timeout:      time.Second,
		PingInterval: time.Hour,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
		Priority:     5,
	}
}

func newTestAgent(t *testing.T, cfg Config, src Source) *Agent {
	t.Helper()
	a, err := New(cfg, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentSession(t *testing.T) {
	m := newFakeMaster(t)
	snap := testSnapshot()
	a := newTestAgent(t, testConfig(m), SourceFunc(func() Snapshot { return snap }))
	c := m.accept()
	open, reg := c.handshake()
	if open.Timeout != 1 || open.ID.Compare(Subtree) != 0 || string(open.Descr) != DefaultDescription {
		t.Fatalf("Open = timeout %d id %s descr %q", open.Timeout, open.ID, open.Descr)
	}
	if reg.SessionID != c.sid || reg.Subtree.Compare(Subtree) != 0 || reg.Priority != 5 || reg.Timeout != 1 {
		t.Fatalf("Register = %+v", reg)
	}
	waitFor(t, "registration", a.Connected)
	r := Subtree.String()

	t.Run("get little endian", func(t *testing.T) {
		resp := c.request(&PDU{Header: Header{Type: PDUGet, TransactionID: 7, PacketID: 8},
			Ranges: []SearchRange{{Start: MustOID(r + ".1.1.1.0")}, {Start: MustOID(r + ".1.9.0")}}})
		if resp.Error != 0 || len(resp.VarBinds) != 2 {
			t.Fatalf("response %+v", resp)
		}
		if string(resp.VarBinds[0].Bytes) != "1.4.2-test" || resp.VarBinds[1].Type != TypeNoSuchObject {
			t.Fatalf("varbinds %+v", resp.VarBinds)
		}
	})
	t.Run("getnext network order", func(t *testing.T) {
		resp := c.request(&PDU{Header: Header{Type: PDUGetNext, Flags: FlagNetworkByteOrder, TransactionID: 9, PacketID: 10},
			Ranges: []SearchRange{{Start: MustOID(r + ".1.3.2.1.2")}, {Start: MustOID(r + ".1.6.6.0")}}})
		if string(resp.VarBinds[0].Bytes) != "carrier-b" || resp.VarBinds[1].Type != TypeEndOfMibView {
			t.Fatalf("varbinds %+v", resp.VarBinds)
		}
	})
	t.Run("getbulk", func(t *testing.T) {
		resp := c.request(&PDU{Header: Header{Type: PDUGetBulk, PacketID: 11}, NonRepeaters: 0, MaxRepetitions: 3,
			Ranges: []SearchRange{{Start: MustOID(r + ".1.2.2.1.2")}}})
		var got []string
		for _, vb := range resp.VarBinds {
			got = append(got, string(vb.Bytes))
		}
		if strings.Join(got, ",") != "access,core,udp,tcp,ws" {
			t.Fatalf("bulk values %q", got)
		}
	})
	t.Run("testset refused", func(t *testing.T) {
		resp := c.request(&PDU{Header: Header{Type: PDUTestSet, PacketID: 12},
			VarBinds: []VarBind{{Name: MustOID(r + ".1.1.1.0"), Type: TypeOctetString, Bytes: []byte("x")}}})
		if resp.Error != ErrCodeNotWritable || resp.Index != 1 {
			t.Fatalf("TestSet answer error %d index %d", resp.Error, resp.Index)
		}
	})
	t.Run("cleanupset unanswered", func(t *testing.T) {
		c.write(&PDU{Header: Header{Type: PDUCleanupSet, SessionID: c.sid, PacketID: 13}})
		// The next answer the master reads belongs to the next request.
		resp := c.request(&PDU{Header: Header{Type: PDUGet, PacketID: 14}, Ranges: []SearchRange{{Start: MustOID(r + ".1.4.1.0")}}})
		if resp.VarBinds[0].Uint != 9 {
			t.Fatalf("varbinds %+v", resp.VarBinds)
		}
	})
	t.Run("non-default context", func(t *testing.T) {
		resp := c.request(&PDU{Header: Header{Type: PDUGet, Flags: FlagNonDefaultContext, PacketID: 15},
			Context: []byte("other"), Ranges: []SearchRange{{Start: MustOID(r + ".1.4.1.0")}}})
		if resp.Error != ErrCodeUnsupportedContext {
			t.Fatalf("error %d, want unsupportedContext", resp.Error)
		}
	})
	t.Run("malformed payload", func(t *testing.T) {
		b, _ := (&PDU{Header: Header{Type: PDUGet, SessionID: c.sid, PacketID: 16},
			Ranges: []SearchRange{{Start: Subtree}}}).Encode(nil)
		b[20] = 100 // sub-identifier count beyond the payload
		c.writeRaw(b)
		resp := c.read()
		if resp.Type != PDUResponse || resp.PacketID != 16 || resp.Error != ErrCodeParseError {
			t.Fatalf("answer to a malformed pdu: %+v", resp)
		}
		if a.Stats().ParseErrors != 1 || !a.Connected() {
			t.Fatalf("stats %+v connected %v", a.Stats(), a.Connected())
		}
	})
	t.Run("notify", func(t *testing.T) {
		errc := make(chan error, 1)
		go func() {
			errc <- a.Notify(context.Background(), TrunkUp{Trunk: "pbx", Gateways: 1, GatewaysUp: 1, Reason: "OPTIONS 200"})
		}()
		n := c.read()
		if n.Type != PDUNotify || n.SessionID != c.sid || len(n.VarBinds) != 6 {
			t.Fatalf("notify pdu %+v", n)
		}
		if n.VarBinds[0].Name.Compare(oidSnmpTrapOID) != 0 || n.VarBinds[0].Value.Compare(notificationOID(trapTrunkUp)) != 0 {
			t.Fatalf("first varbind %+v", n.VarBinds[0])
		}
		if n.VarBinds[1].Name.String() != r+".1.3.2.1.2.2" || string(n.VarBinds[1].Bytes) != "pbx" || n.VarBinds[2].Int != trunkUp {
			t.Fatalf("trunk varbinds %+v", n.VarBinds[1:])
		}
		c.respond(n, ErrCodeNone)
		if err := <-errc; err != nil {
			t.Fatalf("Notify: %v", err)
		}

		go func() {
			errc <- a.Notify(context.Background(), Overload{ActiveCalls: 10, MaxCalls: 10, Reason: "calls"})
		}()
		c.respond(c.read(), ErrCodeProcessingError)
		if err := <-errc; !errors.Is(err, ErrMasterRefused) {
			t.Fatalf("refused Notify err = %v", err)
		}
		if err := a.Notify(context.Background(), TrunkDown{Trunk: "nope"}); !errors.Is(err, ErrUnknownTrunk) {
			t.Fatalf("unknown trunk err = %v", err)
		}
		if err := a.Notify(context.Background(), nil); err == nil {
			t.Fatal("nil trap accepted")
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { errc <- a.Notify(ctx, ConfigReloadFailed{Reason: "bad"}) }()
		n = c.read()
		if string(n.VarBinds[1].Bytes) != "sha256:5f1c0ffee" || string(n.VarBinds[2].Bytes) != "bad" {
			t.Fatalf("reload varbinds %+v", n.VarBinds)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Notify err = %v", err)
		}
		if st := a.Stats(); st.NotifySent != 1 || st.NotifyFailed != 4 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("master ping", func(t *testing.T) {
		if resp := c.request(&PDU{Header: Header{Type: PDUPing, PacketID: 20}}); resp.Error != 0 {
			t.Fatalf("ping answer %+v", resp)
		}
	})
	t.Run("close", func(t *testing.T) {
		done := make(chan struct{})
		go func() { a.Close(); a.Close(); close(done) }()
		p := c.read()
		if p.Type != PDUClose || p.Reason != CloseShutdown || p.SessionID != c.sid {
			t.Fatalf("on Close the master got %+v", p)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
		if err := a.Notify(context.Background(), Overload{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Notify after Close err = %v", err)
		}
	})
}

func TestAgentReconnects(t *testing.T) {
	m := newFakeMaster(t)
	a := newTestAgent(t, testConfig(m), SourceFunc(testSnapshot))

	t.Run("open refused", func(t *testing.T) {
		c := m.accept()
		open := c.read()
		c.respond(open, ErrCodeOpenFailed)
		c.c.Close()
	})
	t.Run("register refused", func(t *testing.T) {
		c := m.accept()
		c.respond(c.read(), ErrCodeNone)
		c.respond(c.read(), ErrCodeDuplicateRegistration)
		c.c.Close()
		if a.Connected() {
			t.Fatal("connected although registration was refused")
		}
	})
	t.Run("master closes", func(t *testing.T) {
		c := m.accept()
		c.handshake()
		waitFor(t, "session", a.Connected)
		c.write(&PDU{Header: Header{Type: PDUClose, SessionID: c.sid}, Reason: CloseByManager})
		waitFor(t, "disconnect", func() bool { return !a.Connected() })
	})
	t.Run("connection dropped", func(t *testing.T) {
		c := m.accept()
		c.handshake()
		waitFor(t, "session", a.Connected)
		c.c.Close()
		waitFor(t, "disconnect", func() bool { return !a.Connected() })
	})
	t.Run("garbage header", func(t *testing.T) {
		c := m.accept()
		c.handshake()
		waitFor(t, "session", a.Connected)
		c.writeRaw(make([]byte, 20)) // version 0: the stream cannot be trusted
		if p := c.read(); p.Type != PDUClose || p.Reason != CloseParseError {
			t.Fatalf("agent answered garbage with %+v", p)
		}
		waitFor(t, "disconnect", func() bool { return !a.Connected() })
	})
	c := m.accept()
	c.handshake()
	waitFor(t, "session", a.Connected)
	if s := a.Stats().Sessions; s != 4 {
		t.Fatalf("sessions = %d, want 4", s)
	}
}

func TestAgentPingTimeout(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig(m)
	cfg.PingInterval = 50 * time.Millisecond
	a := newTestAgent(t, cfg, SourceFunc(testSnapshot))
	c := m.accept()
	c.handshake()
	waitFor(t, "session", a.Connected)
	// Answer one ping, then stay silent: the agent must give up on the
	// session within its timeout and connect again.
	p := c.read()
	if p.Type != PDUPing || p.SessionID != c.sid {
		t.Fatalf("expected Ping, got %+v", p)
	}
	c.respond(p, ErrCodeNone)
	start := time.Now()
	c2 := m.accept()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("reconnect after %v", d)
	}
	c2.handshake()
	waitFor(t, "second session", func() bool { return a.Stats().Sessions == 2 })
}

func TestAgentSourcePanics(t *testing.T) {
	m := newFakeMaster(t)
	a := newTestAgent(t, testConfig(m), SourceFunc(func() Snapshot { panic("boom") }))
	c := m.accept()
	c.handshake()
	waitFor(t, "session", a.Connected)
	resp := c.request(&PDU{Header: Header{Type: PDUGet, PacketID: 1}, Ranges: []SearchRange{{Start: Subtree}}})
	if resp.Error != ErrCodeGenErr {
		t.Fatalf("error %d, want genErr", resp.Error)
	}
	if err := a.Notify(context.Background(), TrunkDown{Trunk: "pbx"}); !errors.Is(err, ErrSource) {
		t.Fatalf("Notify err = %v, want ErrSource", err)
	}
}

func TestAgentWithoutMaster(t *testing.T) {
	dir, err := os.MkdirTemp("", "agentx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	before := runtime.NumGoroutine()
	a, err := New(Config{Address: filepath.Join(dir, "absent"), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
		SourceFunc(testSnapshot), nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := a.Notify(context.Background(), Overload{}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Notify err = %v, want ErrNotConnected", err)
	}
	start := time.Now()
	a.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		network string
		addr    string
	}{
		{"defaults", Config{}, "unix", "/var/agentx/master"},
		{"bare path", Config{Address: "/run/agentx.sock"}, "unix", "/run/agentx.sock"},
		{"tcp loopback", Config{Address: "tcp:127.0.0.1:705"}, "tcp", "127.0.0.1:705"},
		{"tcp localhost", Config{Address: "tcp:localhost:705"}, "tcp", "localhost:705"},
		{"tcp v6 loopback", Config{Address: "tcp:[::1]:705"}, "tcp", "[::1]:705"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, a, err := tt.cfg.withDefaults().validate()
			if err != nil || n != tt.network || a != tt.addr {
				t.Fatalf("validate = %q %q %v, want %q %q", n, a, err, tt.network, tt.addr)
			}
		})
	}
	bad := []struct {
		name string
		cfg  Config
	}{
		{"remote tcp", Config{Address: "tcp:192.0.2.1:705"}},
		{"tcp no port", Config{Address: "tcp:127.0.0.1"}},
		{"udp", Config{Address: "udp:127.0.0.1:705"}},
		{"relative path", Config{Address: "agentx.sock"}},
		{"empty unix", Config{Address: "unix:"}},
		{"fractional timeout", Config{Timeout: 1500 * time.Millisecond}},
		{"timeout too long", Config{Timeout: 256 * time.Second}},
		{"backoff inverted", Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}},
		{"negative ping", Config{PingInterval: -time.Second}},
		{"long description", Config{Description: strings.Repeat("d", 256)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, SourceFunc(testSnapshot), nil); !errors.Is(err, ErrConfig) {
				t.Fatalf("New err = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(Config{}, nil, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil source err = %v", err)
	}
}
