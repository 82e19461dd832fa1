package rtpengine

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/openborder/openborder/test/testenv"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testRelay is the relay newTestEngine uses (TestGoroutineRelay switches
// it to run the relay tests again with the other socket model).
var testRelay = RelayAuto

// newTestEngine starts an engine with interfaces "access" (ports
// base..base+19) and "core" (base+20..base+39) on 127.0.0.1; core
// advertises coreAdv when valid.
func newTestEngine(t testing.TB, base int, coreAdv netip.Addr, mod func(*Config)) *Engine {
	t.Helper()
	cfg := Config{
		Interfaces: []InterfaceConfig{
			{Name: "access", Addr: loopback, PortMin: base, PortMax: base + 19},
			{Name: "core", Addr: loopback, Advertised: coreAdv, PortMin: base + 20, PortMax: base + 39},
		},
		PortDrain: time.Millisecond,
		Logger:    testLogger(t),
		Relay:     testRelay,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// peer is a test RTP endpoint on loopback.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort
}

// testPortsEnd ends the loopback ports the engines of this package's
// tests bind (from testPortBase); a peer's ephemeral port must not fall in
// there, or an engine finds its port taken.
const testPortsEnd = 43000

func newPeer(t testing.TB) *peer {
	t.Helper()
	var c *net.UDPConn
	for {
		var err error
		if c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
		if p := c.LocalAddr().(*net.UDPAddr).Port; p < testPortBase || p >= testPortsEnd {
			break
		}
		// Keep it open until the next bind so the kernel moves on.
		defer c.Close()
	}
	t.Cleanup(func() { _ = c.Close() })
	return &peer{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func (p *peer) send(b []byte, to netip.AddrPort) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv waits up to d for a datagram; ok is false on timeout.
func (p *peer) recv(d time.Duration) ([]byte, netip.AddrPort, bool) {
	buf := make([]byte, 2048)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, from, false
	}
	return buf[:n], from, true
}

// rtpPacket builds a minimal RTP packet.
func rtpPacket(pt uint8, seq uint16, ts, ssrc uint32, payload int) []byte {
	b := make([]byte, 12+payload)
	b[0] = 0x80
	b[1] = pt
	b[2], b[3] = byte(seq>>8), byte(seq)
	b[4], b[5], b[6], b[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	b[8], b[9], b[10], b[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = 0xFF
	}
	return b
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutinesSettle waits until the goroutine count is at most n.
func goroutinesSettle(n int) int {
	var g int
	for range 200 {
		if g = runtime.NumGoroutine(); g <= n {
			return g
		}
		time.Sleep(5 * time.Millisecond)
	}
	return g
}

func netUDPAddr(a netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(a) }

// rtcpRR builds a receiver report with one report block.
func rtcpRR(ssrc, source, lsr, dlsr uint32) []byte {
	b := make([]byte, 32)
	b[0] = 0x81
	b[1] = 201
	b[3] = 7
	put32(b[4:], ssrc)
	put32(b[8:], source)
	put32(b[24:], lsr)
	put32(b[28:], dlsr)
	return b
}

// rtcpSR builds a sender report without report blocks.
func rtcpSR(ssrc uint32, ntpSec, ntpFrac uint32) []byte {
	b := make([]byte, 28)
	b[0] = 0x80
	b[1] = 200
	b[3] = 6
	put32(b[4:], ssrc)
	put32(b[8:], ntpSec)
	put32(b[12:], ntpFrac)
	return b
}

func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// testLogger discards logs unless the test runs verbose.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// skipUnlessCI skips a test whose environment is not as it needs (a port
// taken by something else); in CI that is a failure (testenv).
var skipUnlessCI = testenv.SkipUnlessCI
