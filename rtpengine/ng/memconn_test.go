package ng

import (
	"net"
	"os"
	"sync"
	"time"
)

// memAddr is an address on the in-memory network.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

type memPacket struct {
	b    []byte
	from net.Addr
}

// memConn is an in-memory net.PacketConn: the test injects datagrams with
// send and reads what the server wrote with recv.
type memConn struct {
	in  chan memPacket
	out chan memPacket

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed and replaced when the deadline changes
	closed   chan struct{}
	once     sync.Once
}

func newMemConn() *memConn {
	return &memConn{
		in:     make(chan memPacket, 1024),
		out:    make(chan memPacket, 1024),
		wake:   make(chan struct{}),
		closed: make(chan struct{}),
	}
}

func (c *memConn) send(from string, b []byte) { c.in <- memPacket{b: b, from: memAddr(from)} }

// recv returns the next reply, or nil after timeout.
func (c *memConn) recv(timeout time.Duration) *memPacket {
	select {
	case p := <-c.out:
		return &p
	case <-time.After(timeout):
		return nil
	}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			timer = t.C
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case p := <-c.in:
			stop()
			return copy(b, p.b), p.from, nil
		case <-c.closed:
			stop()
			return 0, nil, net.ErrClosed
		case <-timer:
			return 0, nil, os.ErrDeadlineExceeded
		case <-wake:
			stop()
		}
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case c.out <- memPacket{b: append([]byte(nil), b...), from: addr}:
		return len(b), nil
	}
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr { return memAddr("ng-server") }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
	return nil
}

func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
