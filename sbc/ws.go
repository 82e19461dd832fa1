package sbc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/policy"
)

// SIP over WebSocket (RFC 7118). sipgo's WS transport performs the HTTP
// upgrade and the framing; wsListener sits in front of it and decides who
// gets that far: it accepts the TCP (or TLS) connections itself, enforces the
// listener's connection limit, reads the upgrade request under a deadline,
// and refuses with an HTTP error a request that is not a WebSocket upgrade,
// does not offer the "sip" subprotocol, or comes from a browser Origin the
// realm does not allow. Accepted connections are handed to sipgo with the
// request bytes put back in front. An idle timeout closes connections that
// send nothing, not even the CRLF keep-alive (RFC 5626 section 3.5.1) that
// sipgo answers; closing a connection drops the registrations that reached
// sbcd over it (its flow is gone, RFC 5626 section 5).
//
// Server-side keep-alive (ws_keepalive.go): a connection silent for the
// ping interval gets a WebSocket Ping; one that does not answer with a Pong
// within the pong timeout is closed, which is a flow failure like any
// other close. Pings and Pongs never reach sipgo: the connection filters
// control frames out of the stream and answers the client's own Pings.

// maxHandshake bounds the upgrade request's size.
const maxHandshake = 8 << 10

// WSStats counts what one WebSocket listener did.
type WSStats struct {
	Realm     string `json:"realm"`
	Transport string `json:"transport"`
	Address   string `json:"address"`
	// Open is the number of open connections.
	Open int64 `json:"open"`
	// Accepted counts upgrades handed to SIP; the Refused* counters count
	// handshakes refused for a bad Origin, a missing "sip" subprotocol,
	// the connection limit, or a malformed/slow request.
	Accepted        uint64 `json:"accepted"`
	RefusedOrigin   uint64 `json:"refused_origin"`
	RefusedProtocol uint64 `json:"refused_protocol"`
	RefusedLimit    uint64 `json:"refused_limit"`
	RefusedBad      uint64 `json:"refused_bad"`
	// IdleClosed counts connections closed by the idle timeout.
	IdleClosed uint64 `json:"idle_closed"`
	// PingsSent counts keep-alive Pings sent; PongTimeouts counts
	// connections closed because their Pong did not come.
	PingsSent    uint64 `json:"pings_sent"`
	PongTimeouts uint64 `json:"pong_timeouts"`
}

// wsListener is the net.Listener sipgo's WS/WSS transport serves.
type wsListener struct {
	inner     net.Listener
	tlsConf   *tls.Config // non-nil: wss
	cfg       policy.WebSocketConfig
	realm     string
	transport string
	log       *slog.Logger
	// onClose is told the remote address of every connection that closes.
	onClose func(transport, raddr string)

	ready chan net.Conn
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	open                                  atomic.Int64
	accepted, refOrigin, refProto, refLim atomic.Uint64
	refBad, idleClosed                    atomic.Uint64
	pings, pongTimeouts                   atomic.Uint64

	connMu sync.Mutex
	conns  map[*wsConn]struct{} // handed to sipgo and not closed
}

func newWSListener(inner net.Listener, tlsConf *tls.Config, cfg policy.WebSocketConfig, realm, transport string,
	log *slog.Logger, onClose func(string, string)) *wsListener {
	l := &wsListener{inner: inner, tlsConf: tlsConf, cfg: cfg, realm: realm, transport: transport, log: log,
		onClose: onClose, ready: make(chan net.Conn), done: make(chan struct{}), conns: map[*wsConn]struct{}{}}
	l.wg.Go(l.acceptLoop)
	if cfg.PingInterval > 0 && cfg.PongTimeout > 0 {
		l.wg.Go(l.keepalive)
	}
	return l
}

func (l *wsListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if l.open.Load() >= int64(l.cfg.MaxConnections) {
			l.refLim.Add(1)
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			writeHTTPError(c, http.StatusServiceUnavailable, "connection limit reached")
			_ = c.Close()
			continue
		}
		l.open.Add(1)
		l.wg.Go(func() { l.handshake(c) })
	}
}

// handshake checks one connection's upgrade request and hands it to sipgo.
func (l *wsListener) handshake(raw net.Conn) {
	c := &wsConn{Conn: raw, l: l, raddr: raw.RemoteAddr().String()}
	deadline := time.Now().Add(l.cfg.HandshakeTimeout)
	_ = raw.SetDeadline(deadline)
	var conn net.Conn = raw
	if l.tlsConf != nil {
		tc := tls.Server(raw, l.tlsConf)
		if err := tc.Handshake(); err != nil {
			l.refBad.Add(1)
			_ = c.Close()
			return
		}
		conn = tc
		c.Conn = tc
	}
	head, reason, code := l.check(conn)
	if code != 0 {
		writeHTTPError(conn, code, reason)
		_ = c.Close()
		l.log.Debug("websocket handshake refused", "remote", c.raddr, "status", code, "reason", reason)
		return
	}
	_ = conn.SetDeadline(time.Time{})
	c.head = head
	c.filter = l.cfg.PingInterval > 0 && l.cfg.PongTimeout > 0
	c.cond = sync.NewCond(&c.wmu)
	c.lastRecv.Store(time.Now().UnixNano())
	l.connMu.Lock()
	l.conns[c] = struct{}{}
	l.connMu.Unlock()
	select {
	case l.ready <- c:
		l.accepted.Add(1)
	case <-l.done:
		_ = c.Close()
	}
}

// check reads the upgrade request and returns it, or the HTTP status and
// reason of its refusal.
func (l *wsListener) check(conn net.Conn) ([]byte, string, int) {
	head, err := readHead(conn)
	if err != nil {
		l.refBad.Add(1)
		return nil, "malformed upgrade request", http.StatusBadRequest
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil || req.Method != http.MethodGet || !headerHas(req.Header, "Upgrade", "websocket") {
		l.refBad.Add(1)
		return nil, "not a WebSocket upgrade", http.StatusBadRequest
	}
	if !headerHas(req.Header, "Sec-WebSocket-Protocol", "sip") {
		l.refProto.Add(1)
		return nil, `the "sip" WebSocket subprotocol is required (RFC 7118)`, http.StatusBadRequest
	}
	if origin := req.Header.Get("Origin"); origin != "" && !l.cfg.AllowsOrigin(origin) {
		l.refOrigin.Add(1)
		return nil, "origin not allowed", http.StatusForbidden
	}
	return head, "", 0
}

// readHead reads up to and including the blank line that ends the HTTP
// request head, one byte at a time so nothing after it is consumed.
func readHead(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	one := make([]byte, 1)
	for len(buf) < maxHandshake {
		if _, err := io.ReadFull(r, one); err != nil {
			return nil, err
		}
		buf = append(buf, one[0])
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			return buf, nil
		}
	}
	return nil, errors.New("upgrade request too large")
}

// headerHas reports whether a comma-separated header holds token.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func writeHTTPError(w io.Writer, code int, reason string) {
	body := reason + "\n"
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
}

// Accept hands sipgo the next connection whose upgrade request passed.
func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and waits for handshakes in progress. Connections
// already handed to sipgo stay open until sipgo closes them.
func (l *wsListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.wg.Wait()
	})
	return err
}

func (l *wsListener) Addr() net.Addr { return l.inner.Addr() }

func (l *wsListener) stats() WSStats {
	return WSStats{Realm: l.realm, Transport: l.transport, Address: l.inner.Addr().String(),
		Open: l.open.Load(), Accepted: l.accepted.Load(), RefusedOrigin: l.refOrigin.Load(),
		RefusedProtocol: l.refProto.Load(), RefusedLimit: l.refLim.Load(), RefusedBad: l.refBad.Load(),
		IdleClosed: l.idleClosed.Load(), PingsSent: l.pings.Load(), PongTimeouts: l.pongTimeouts.Load()}
}

// wsConn replays the upgrade request to sipgo, applies the idle timeout to
// every read, filters WebSocket control frames out of the stream when
// keep-alive is on (ws_keepalive.go) and tells the listener once when it
// closes.
type wsConn struct {
	net.Conn
	l      *wsListener
	raddr  string
	head   []byte
	closed atomic.Bool

	// filter: Pings and Pongs are handled here, not passed to sipgo.
	filter bool
	// Read side (sipgo's one reader goroutine): in[inR:inW] holds bytes
	// read but not yet passed on or consumed; pass counts the bytes of the
	// current data frame still to pass through.
	in       [256]byte
	inR, inW int
	pass     int64
	// lastRecv is when bytes last arrived, pingSent when the outstanding
	// Ping went out (0: none), both in Unix nanoseconds.
	lastRecv, pingSent atomic.Int64

	// Write side: wmu serialises sipgo's writes with Pings and Pongs;
	// out tracks where the outgoing stream is, so that a control frame
	// goes only between two of sipgo's frames.
	wmu  sync.Mutex
	cond *sync.Cond
	out  frameTracker
}

// readRaw reads from the connection under the idle timeout.
func (c *wsConn) readRaw(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.l.cfg.IdleTimeout))
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRecv.Store(time.Now().UnixNano())
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() && !c.closed.Load() {
		c.l.idleClosed.Add(1)
		_ = c.Close()
	}
	return n, err
}

func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if !c.filter {
		return c.readRaw(p)
	}
	return c.readFiltered(p)
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	c.out.wrote(p[:n])
	if c.out.atBoundary() {
		c.cond.Broadcast()
	}
	return n, err
}

func (c *wsConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.l.connMu.Lock()
	delete(c.l.conns, c)
	c.l.connMu.Unlock()
	c.l.open.Add(-1)
	err := c.Conn.Close()
	if c.cond != nil {
		c.wmu.Lock()
		c.cond.Broadcast()
		c.wmu.Unlock()
	}
	if c.l.onClose != nil {
		c.l.onClose(c.l.transport, c.raddr)
	}
	return err
}

// listenWS opens a ws or wss listener of the realm.
func (r *realm) listenWS(ctx context.Context, lc net.ListenConfig, l policy.ListenerConfig, ap netip.AddrPort, wg *sync.WaitGroup) error {
	ln, err := lc.Listen(ctx, "tcp", l.Address)
	if err != nil {
		return fmt.Errorf("realm %s: %w", r.name, err)
	}
	var tlsConf *tls.Config
	tp := strings.ToUpper(l.Transport)
	if l.Transport == "wss" {
		cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("realm %s: wss listener %s: %w", r.name, l.Address, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	wl := newWSListener(ln, tlsConf, l.WebSocket, r.name, tp, r.log.With("transport", tp), func(transport, raddr string) {
		if n := r.b.reg.dropSource(r.name, transport, raddr); n > 0 {
			r.log.Info("websocket closed, registrations dropped", "transport", transport, "remote", raddr, "bindings", n)
		}
	})
	r.ws = append(r.ws, wl)
	r.addrs[tp] = ap
	r.closers = append(r.closers, wl.Close)
	if tp == "WSS" {
		wg.Go(func() { _ = r.tpl.ServeWSS(wl) })
	} else {
		wg.Go(func() { _ = r.tpl.ServeWS(wl) })
	}
	return nil
}

// isWebSocket reports whether a transport name is ws or wss.
func isWebSocket(transport string) bool {
	t := strings.ToUpper(transport)
	return t == "WS" || t == "WSS"
}

// hasFlow reports whether the realm still has the WebSocket connection a
// client registered over; requests to it can go nowhere else.
func (r *realm) hasFlow(transport, source string) bool {
	c, _ := r.tpl.GetConnection(transport, source)
	return c != nil
}

// WebSocketStats reports every WebSocket listener's counters.
func (b *B2BUA) WebSocketStats() []WSStats {
	var out []WSStats
	for _, r := range b.realms {
		for _, l := range r.ws {
			out = append(out, l.stats())
		}
	}
	return out
}

// webrtcSRTP gives a leg over WebSocket the media of a browser (DTLS-SRTP,
// ICE-lite, rtcp-mux) when its realm leaves the choice to the peer.
func webrtcSRTP(srtp, transport string) string {
	if (srtp == "" || srtp == "optional") && isWebSocket(transport) {
		return "webrtc"
	}
	return srtp
}
