package guard

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// pipeConn is one end of net.Pipe with TCP addresses.
type pipeConn struct {
	net.Conn
}

func (pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060} }
func (pipeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 5060} }

func newStream(t *testing.T, extra string) (*streamConn, net.Conn) {
	t.Helper()
	g := New(testPolicy(t, extra), Options{Logger: quiet})
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	if !g.Admit("access", src) {
		t.Fatal("not admitted")
	}
	return &streamConn{Conn: pipeConn{a}, g: g, realm: "access", src: src}, b
}

func TestStreamFramesMessages(t *testing.T) {
	sc, peer := newStream(t, "")
	good := msg(sdp)
	bad := strings.Replace(string(msg(sdp)), "314159 INVITE", "314159 BYE", 1)
	go func() {
		// Two messages and a keep-alive in one write, then a refused one, then another good one in pieces.
		_, _ = peer.Write(append(append(append([]byte{}, good...), "\r\n\r\n"...), good...))
		_, _ = peer.Write([]byte(bad))
		_, _ = peer.Write(good[:100])
		_, _ = peer.Write(good[100:])
	}()
	want := string(good) + "\r\n\r\n" + string(good) + string(good)
	got := make([]byte, 0, len(want))
	buf := make([]byte, 700)
	replies := make(chan string, 1)
	go func() {
		r := make([]byte, 4096)
		n, _ := peer.Read(r)
		replies <- string(r[:n])
	}()
	for len(got) < len(want) {
		n, err := sc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v after %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Fatalf("framed stream:\n%q\nwant\n%q", got, want)
	}
	if r := <-replies; !strings.HasPrefix(r, "SIP/2.0 400 ") {
		t.Fatalf("refused message answered %q", r)
	}
}

func TestStreamSlowMessageCloses(t *testing.T) {
	sc, peer := newStream(t, "security: {tcp: {message_timeout: 200ms}}\n")
	go func() {
		_, _ = peer.Write([]byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: "))
		for range 20 {
			time.Sleep(50 * time.Millisecond)
			if _, err := peer.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	_, err := sc.Read(make([]byte, 100))
	if err != ErrSlowMessage {
		t.Fatalf("read error %v, want ErrSlowMessage", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 900*time.Millisecond {
		t.Fatalf("closed after %s, want about 200ms", d)
	}
}

func TestStreamWithoutContentLengthCloses(t *testing.T) {
	sc, peer := newStream(t, "")
	noCL := strings.Replace(string(msg("")), "Content-Length: 0\r\n", "", 1)
	go func() { _, _ = peer.Write([]byte(noCL)) }()
	replies := make(chan string, 1)
	go func() {
		r, _ := io.ReadAll(io.LimitReader(peer, 4096))
		replies <- string(r)
	}()
	if _, err := sc.Read(make([]byte, 100)); err != ErrFraming {
		t.Fatalf("read error %v, want ErrFraming", err)
	}
	_ = sc.Close()
	if r := <-replies; !strings.HasPrefix(r, "SIP/2.0 400 ") {
		t.Fatalf("answered %q", r)
	}
}

func TestAdmitBoundsConnections(t *testing.T) {
	g := New(testPolicy(t, "security: {tcp: {max_per_source: 2}}\n"), Options{Logger: quiet})
	src := netip.MustParseAddrPort("192.0.2.1:1")
	if !g.Admit("access", src) || !g.Admit("access", src) || g.Admit("access", src) {
		t.Fatal("third connection admitted")
	}
	g.Release(src)
	if !g.Admit("access", src) {
		t.Fatal("released slot not reusable")
	}
}

// udpPair is a wrapped packet conn and a peer socket on loopback.
func TestPacketConnAnswersAndDrops(t *testing.T) {
	g := New(testPolicy(t, ""), Options{Logger: quiet})
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pc := g.WrapPacketConn("access", srv)
	cli, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	bad := strings.Replace(string(msg(sdp)), "Max-Forwards: 70", "Max-Forwards: 70\r\nMax-Forwards: 70", 1)
	_, _ = cli.WriteTo([]byte(bad), srv.LocalAddr())
	_, _ = cli.WriteTo([]byte("\x00\x01garbage"), srv.LocalAddr())
	_, _ = cli.WriteTo(msg(sdp), srv.LocalAddr())
	_ = srv.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 65535)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], msg(sdp)) {
		t.Fatalf("reader got %q, %v; want the good INVITE only", buf[:n], err)
	}
	_ = cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err = cli.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 400 ") {
		t.Fatalf("sender got %q, %v; want a 400", buf[:n], err)
	}
}

func TestLegacyBranch(t *testing.T) {
	g := New(testPolicy(t, ""), Options{Logger: quiet})
	noBranch := strings.Replace(string(msg(sdp)), ";branch=z9hG4bK776asdhds", "", 1)
	oldBranch := strings.Replace(string(msg(sdp)), "z9hG4bK776asdhds", "390skdjuw", 1)
	for _, in := range []string{noBranch, oldBranch} {
		var m Msg
		if v := g.Inspect("access", src, false, []byte(in), &m); v.Stage != "" {
			t.Fatalf("refused: %+v", v)
		}
		out, ok := g.legacyBranch(nil, []byte(in), &m)
		if !ok || !bytes.Contains(out, []byte(";branch=z9hG4bK")) {
			t.Fatalf("no RFC 3261 branch:\n%s", out)
		}
		var m2 Msg
		out2, _ := g.legacyBranch(nil, []byte(in), &m)
		if !bytes.Equal(out, out2) {
			t.Fatal("branch differs for a retransmission")
		}
		if v := g.Inspect("access", src, false, out, &m2); v.Stage != "" {
			t.Fatalf("rewritten message refused: %+v", v)
		}
	}
	var m Msg
	g.Inspect("access", src, false, msg(sdp), &m)
	if _, ok := g.legacyBranch(nil, msg(sdp), &m); ok {
		t.Fatal("RFC 3261 request rewritten")
	}
}
