package sbc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// WebSocket keep-alive. sipgo reads and writes the SIP frames; these
// functions sit between it and the socket:
//
//   - readFiltered passes data and close frames through unchanged and
//     consumes Ping and Pong frames: a Pong clears the outstanding
//     keep-alive Ping, a Ping is answered with a Pong carrying its payload
//     (sipgo would otherwise leave a control frame's payload in the stream).
//   - frameTracker follows sipgo's writes frame by frame, so a Ping or Pong
//     is written only between two frames, never inside one (sipgo writes a
//     frame's header and payload with separate calls).
//   - keepalive, one goroutine per listener, pings connections that have
//     been silent for the ping interval and closes those whose Pong does not
//     come within the pong timeout.

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	wsOpClose = 0x8
	wsOpPing  = 0x9
	wsOpPong  = 0xA
)

var (
	errWSControl = errors.New("websocket: malformed control frame")
	errWSBusy    = errors.New("websocket: a frame is being written")
)

// wsHeaderLen returns the length of the frame header that starts with b
// (at least 2 bytes).
func wsHeaderLen(b []byte) int {
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// wsPayloadLen returns the payload length of the complete header h.
func wsPayloadLen(h []byte) int64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return int64(binary.BigEndian.Uint64(h[2:10]) & (1<<63 - 1))
	default:
		return int64(l)
	}
}

// frameTracker follows an outgoing WebSocket stream: first the HTTP
// upgrade response, then frames.
type frameTracker struct {
	upgraded bool
	last4    uint32   // the last four bytes of the response head
	hdr      [14]byte // a frame header being written
	hdrN     int
	remain   int64 // payload bytes of the current frame still to come
}

// wrote records bytes written to the connection.
func (t *frameTracker) wrote(p []byte) {
	for len(p) > 0 {
		if !t.upgraded {
			t.last4 = t.last4<<8 | uint32(p[0])
			p = p[1:]
			t.upgraded = t.last4 == 0x0d0a0d0a
			continue
		}
		if t.remain > 0 {
			k := min(int64(len(p)), t.remain)
			t.remain -= k
			p = p[k:]
			continue
		}
		t.hdr[t.hdrN] = p[0]
		t.hdrN++
		p = p[1:]
		if t.hdrN >= 2 && t.hdrN == wsHeaderLen(t.hdr[:2]) {
			t.remain = wsPayloadLen(t.hdr[:t.hdrN])
			t.hdrN = 0
		}
	}
}

// atBoundary reports whether a frame may be written now.
func (t *frameTracker) atBoundary() bool { return t.upgraded && t.remain == 0 && t.hdrN == 0 }

// fill reads until at least n bytes are buffered.
func (c *wsConn) fill(n int) error {
	if c.inR+n > len(c.in) {
		c.inW = copy(c.in[:], c.in[c.inR:c.inW])
		c.inR = 0
	}
	for c.inW-c.inR < n {
		m, err := c.readRaw(c.in[c.inW:])
		c.inW += m
		if err != nil && c.inW-c.inR < n {
			return err
		}
	}
	return nil
}

// readFiltered is Read with Ping and Pong frames taken out of the stream.
func (c *wsConn) readFiltered(p []byte) (int, error) {
	for {
		if c.pass > 0 {
			lim := int(min(int64(len(p)), c.pass))
			if c.inW > c.inR {
				n := copy(p[:lim], c.in[c.inR:c.inW])
				c.inR += n
				c.pass -= int64(n)
				return n, nil
			}
			n, err := c.readRaw(p[:lim])
			c.pass -= int64(n)
			return n, err
		}
		if err := c.fill(2); err != nil {
			return 0, err
		}
		hl := wsHeaderLen(c.in[c.inR : c.inR+2])
		if err := c.fill(hl); err != nil {
			return 0, err
		}
		h := c.in[c.inR : c.inR+hl]
		op := h[0] & 0x0f
		plen := wsPayloadLen(h)
		if op != wsOpPing && op != wsOpPong {
			c.pass = int64(hl) + plen
			continue
		}
		if plen > 125 || h[0]&0x80 == 0 {
			_ = c.Close()
			return 0, fmt.Errorf("%w from %s", errWSControl, c.raddr)
		}
		if err := c.fill(hl + int(plen)); err != nil {
			return 0, err
		}
		var payload [125]byte
		pl := payload[:plen]
		copy(pl, c.in[c.inR+hl:c.inR+hl+int(plen)])
		if h[1]&0x80 != 0 {
			key := h[hl-4 : hl]
			for i := range pl {
				pl[i] ^= key[i%4]
			}
		}
		c.inR += hl + int(plen)
		if op == wsOpPong {
			c.pingSent.Store(0)
			continue
		}
		if err := c.sendControl(wsOpPong, pl, true); err != nil {
			return 0, err
		}
	}
}

// sendControl writes a Ping or Pong between two of sipgo's frames. With
// wait false it gives up (errWSBusy) rather than wait for a frame to end.
func (c *wsConn) sendControl(op byte, payload []byte, wait bool) error {
	if wait {
		c.wmu.Lock()
	} else if !c.wmu.TryLock() {
		return errWSBusy
	}
	defer c.wmu.Unlock()
	for !c.out.atBoundary() && !c.closed.Load() {
		if !wait {
			return errWSBusy
		}
		c.cond.Wait()
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	var f [2 + 125]byte
	f[0] = 0x80 | op
	f[1] = byte(len(payload))
	n := 2 + copy(f[2:], payload)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := c.Conn.Write(f[:n])
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}

// keepalive pings silent connections and closes those that stop answering.
func (l *wsListener) keepalive() {
	tick := min(l.cfg.PingInterval, l.cfg.PongTimeout) / 4
	tick = max(min(tick, time.Second), 20*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var batch []*wsConn
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			batch = batch[:0]
			l.connMu.Lock()
			for c := range l.conns {
				batch = append(batch, c)
			}
			l.connMu.Unlock()
			for _, c := range batch {
				l.checkAlive(c, now.UnixNano())
			}
			clear(batch)
		}
	}
}

// checkAlive pings c if it has been silent, or closes it if its Pong is
// late.
func (l *wsListener) checkAlive(c *wsConn, now int64) {
	if !c.filter || c.closed.Load() {
		return
	}
	if sent := c.pingSent.Load(); sent != 0 {
		if now-sent >= int64(l.cfg.PongTimeout) {
			l.pongTimeouts.Add(1)
			l.log.Info("websocket keep-alive failed, closing", "remote", c.raddr, "pong_timeout", l.cfg.PongTimeout)
			_ = c.Close()
		}
		return
	}
	if now-c.lastRecv.Load() < int64(l.cfg.PingInterval) {
		return
	}
	c.pingSent.Store(now) // before the write: the Pong may beat the Store
	switch err := c.sendControl(wsOpPing, nil, false); {
	case err == nil:
		l.pings.Add(1)
	case errors.Is(err, errWSBusy):
		c.pingSent.CompareAndSwap(now, 0)
	default:
		l.log.Info("websocket keep-alive ping failed, closing", "remote", c.raddr, "err", err)
		_ = c.Close()
	}
}
