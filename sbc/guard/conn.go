package guard

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// WrapPacketConn returns pc with the chain run on every datagram read
// from it: refused datagrams are answered on pc (when the refusal has a
// status) or dropped, and never reach the reader. Responses written to pc
// are shown to Sent. The wrapper is read from one goroutine, as sipgo does.
func (g *Guard) WrapPacketConn(realm string, pc net.PacketConn) net.PacketConn {
	return &packetConn{PacketConn: pc, g: g, realm: realm}
}

type packetConn struct {
	net.PacketConn
	g     *Guard
	realm string
	m     Msg
	out   []byte
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort()
	case *net.TCPAddr:
		return v.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// keepalive reports a CRLF keep-alive or an all-NUL datagram, which the
// SIP stack ignores by itself.
func keepalive(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' && c != 0 {
			return false
		}
	}
	return true
}

func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || keepalive(p[:n]) {
			return n, addr, err
		}
		v := c.g.Inspect(c.realm, addrPortOf(addr), false, p[:n], &c.m)
		if v.Stage == "" {
			if out, ok := c.g.legacyBranch(c.out[:0], p[:n], &c.m); ok {
				c.out = out
				if len(out) <= len(p) {
					n = copy(p, out)
				}
			}
			return n, addr, nil
		}
		if v.Code != 0 {
			c.out = Reply(c.out[:0], p[:n], &c.m, v.Code)
			if len(c.out) > 0 {
				_, _ = c.PacketConn.WriteTo(c.out, addr)
			}
		}
	}
}

func (c *packetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if len(p) > 11 && p[8] == '4' && p[9] == '0' && p[10] == '4' {
		c.g.Sent(c.realm, addrPortOf(addr).Addr(), p)
	}
	return c.PacketConn.WriteTo(p, addr)
}

// WrapListener returns l with every accepted connection admitted by the
// guard (blacklist, ACL, connections per source) and framed: the reader
// sees only whole messages that passed the chain, refused messages are
// answered on the connection or dropped, and a connection is closed when
// idle too long, when a message takes too long to arrive (slowloris) or
// when its framing is lost.
func (g *Guard) WrapListener(realm string, l net.Listener) net.Listener {
	return &listener{Listener: l, g: g, realm: realm}
}

type listener struct {
	net.Listener
	g     *Guard
	realm string
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := addrPortOf(c.RemoteAddr())
		if !l.g.Admit(l.realm, src) {
			_ = c.Close()
			continue
		}
		return &streamConn{Conn: c, g: l.g, realm: l.realm, src: src}, nil
	}
}

// streamConn frames SIP messages out of a byte stream (RFC 3261 18.3).
type streamConn struct {
	net.Conn
	g     *Guard
	realm string
	src   netip.AddrPort

	mu       sync.Mutex // serialises Read (sipgo reads from one goroutine)
	in       []byte     // bytes read, not yet framed
	out      []byte     // framed, accepted bytes not yet returned
	outOff   int
	started  time.Time // first byte of the pending message
	m        Msg
	reply    []byte
	closeOne sync.Once
}

func (c *streamConn) Close() error {
	c.closeOne.Do(func() { c.g.Release(c.src) })
	return c.Conn.Close()
}

func (c *streamConn) Write(p []byte) (int, error) {
	if len(p) > 11 && p[8] == '4' && p[9] == '0' && p[10] == '4' {
		c.g.Sent(c.realm, c.src.Addr(), p)
	}
	return c.Conn.Write(p)
}

func (c *streamConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.outOff < len(c.out) {
			n := copy(p, c.out[c.outOff:])
			c.outOff += n
			if c.outOff == len(c.out) {
				c.out, c.outOff = c.out[:0], 0
			}
			return n, nil
		}
		if err := c.frame(); err != nil {
			return 0, err
		}
		if len(c.out) > 0 {
			continue
		}
		r := c.g.rules.Load()
		deadline := time.Now().Add(r.tcpIdle)
		if len(c.in) > 0 {
			if c.started.IsZero() {
				c.started = time.Now()
			}
			if d := c.started.Add(r.tcpMsg); d.Before(deadline) {
				deadline = d
			}
		}
		_ = c.Conn.SetReadDeadline(deadline)
		if cap(c.in)-len(c.in) < 4096 {
			grown := make([]byte, len(c.in), 2*cap(c.in)+8192)
			copy(grown, c.in)
			c.in = grown
		}
		n, err := c.Conn.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+n]
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if len(c.in) > 0 {
					c.g.stats.add(StageSanity, ReasonTruncated)
					return 0, ErrSlowMessage
				}
				return 0, ErrIdle
			}
			return 0, err
		}
	}
}

// frame moves whole messages from in to out (accepted) or answers them
// (refused). It returns an error when the stream must be closed.
func (c *streamConn) frame() error {
	r := c.g.rules.Load()
	for len(c.in) > 0 {
		// Keep-alives between messages pass through (RFC 5626 3.5.1).
		if c.in[0] == '\r' || c.in[0] == '\n' {
			k := 0
			for k < len(c.in) && (c.in[k] == '\r' || c.in[k] == '\n') {
				k++
			}
			c.out = append(c.out, c.in[:k]...)
			c.consume(k)
			continue
		}
		he := bytes.Index(c.in, []byte("\r\n\r\n"))
		if he < 0 {
			if len(c.in) > r.lim.MaxMessage {
				c.g.stats.add(StageSanity, ReasonTooLarge)
				return ErrFraming
			}
			return nil
		}
		hdr := c.in[:he+4]
		// Content-Length decides where the message ends; the scan of the
		// whole message below checks everything else.
		cl, ok := contentLength(hdr)
		if !ok {
			c.refuseAndClose(hdr)
			return ErrFraming
		}
		total := he + 4 + cl
		if total > r.lim.MaxMessage+1 && total > len(c.in) {
			// Do not wait for a body that is over the limit anyway.
			c.refuseAndClose(hdr)
			return ErrFraming
		}
		if total > len(c.in) {
			return nil
		}
		msg := c.in[:total]
		v := c.g.Inspect(c.realm, c.src, true, msg, &c.m)
		if v.Stage == "" {
			if out, ok := c.g.legacyBranch(c.reply[:0], msg, &c.m); ok {
				c.reply = out
				c.out = append(c.out, out...)
			} else {
				c.out = append(c.out, msg...)
			}
		} else if v.Code != 0 {
			c.reply = Reply(c.reply[:0], msg, &c.m, v.Code)
			if len(c.reply) > 0 {
				_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
				_, _ = c.Conn.Write(c.reply)
				_ = c.Conn.SetWriteDeadline(time.Time{})
			}
		}
		c.consume(total)
	}
	return nil
}

// refuseAndClose answers a message whose framing cannot be trusted (the
// connection is closed after it).
func (c *streamConn) refuseAndClose(hdr []byte) {
	v := c.g.Inspect(c.realm, c.src, false, hdr, &c.m)
	if c.m.Response || v.Stage == StageBlacklist || v.Stage == StageACL || (v.Stage != "" && v.Code == 0) {
		return
	}
	c.g.stats.add(StageSanity, ReasonBadContentLength)
	c.reply = Reply(c.reply[:0], hdr, &c.m, 400)
	if len(c.reply) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Conn.Write(c.reply)
	}
}

func (c *streamConn) consume(n int) {
	rest := copy(c.in, c.in[n:])
	c.in = c.in[:rest]
	c.started = time.Time{}
	if rest > 0 {
		c.started = time.Now()
	}
}

// contentLength finds the single Content-Length of a header block; a
// missing one is 0 only if... it is required on streams, so missing,
// negative, non-numeric or conflicting values report false.
func contentLength(hdr []byte) (int, bool) {
	n := -1
	pos := bytes.Index(hdr, crlf)
	for pos >= 0 && pos+2 < len(hdr) {
		pos += 2
		e := bytes.Index(hdr[pos:], crlf)
		if e <= 0 {
			break
		}
		hl := hdr[pos : pos+e]
		if colon := bytes.IndexByte(hl, ':'); colon > 0 && headerKind(trimLWS(hl[:colon])) == hCL {
			v := atoi(hl[colon+1:])
			if v < 0 || (n >= 0 && v != n) {
				return 0, false
			}
			n = v
		}
		pos += e
	}
	if n < 0 {
		return 0, false
	}
	return n, true
}
