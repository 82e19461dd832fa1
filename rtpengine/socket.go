package rtpengine

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// socketReadBuffer is the receive buffer asked for on media sockets.
const socketReadBuffer = 1 << 20

// errSockClosed is returned by writes on a released media socket.
var errSockClosed = errors.New("media socket closed")

// errNoEpollRelay: the epoll relay exists on Linux only.
var errNoEpollRelay = errors.New("the epoll media relay needs Linux")

// mediaSock is one media socket. In the epoll relay (Linux) it is a raw
// non-blocking descriptor outside Go's poller, served by one relay worker
// (worker_linux.go); in the goroutine relay it is a net.UDPConn read by its
// own goroutine (reader.run).
type mediaSock struct {
	fd    int          // raw descriptor; -1 for a net.UDPConn
	conn  *net.UDPConn // goroutine relay
	local netip.AddrPort
	v6    bool    // raw AF_INET6 socket (IPv4 peers as mapped addresses)
	gen   uint32  // tells this socket from a later one with the same fd
	w     *worker // the relay worker serving fd (nil until attached)
	r     atomic.Pointer[reader]

	// mu guards closed against writers off the relay workers (DTLS, tone,
	// ICE answers): a released descriptor number may be reused at once.
	mu     sync.RWMutex
	closed bool
}

// udpSock wraps a socket opened by Config.ListenUDP.
func udpSock(c *net.UDPConn) *mediaSock {
	s := &mediaSock{fd: -1, conn: c}
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		s.local = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return s
}

// LocalAddr is the socket's bound address.
func (s *mediaSock) LocalAddr() net.Addr {
	if s.conn != nil {
		return s.conn.LocalAddr()
	}
	return net.UDPAddrFromAddrPort(s.local)
}

// write sends one datagram off the hot path (DTLS records, tones, STUN
// answers). It may allocate.
func (s *mediaSock) write(b []byte, dst netip.AddrPort) (int, error) {
	if s.conn != nil {
		return s.conn.WriteToUDPAddrPort(b, dst)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, errSockClosed
	}
	return rawWrite(s, b, dst)
}

// close releases the socket. A raw socket is first taken out of its
// worker's epoll set and the descriptor closed only once no worker can
// still be using it (see relay.quiesce).
func (s *mediaSock) close() error {
	if s.conn != nil {
		return s.conn.Close()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.w != nil {
		s.w.detach(s)
	}
	return rawClose(s.fd)
}

// tuneSocket sets the receive buffer and the DSCP (IP_TOS / IPV6_TCLASS =
// DSCP<<2) of a media socket. Failures are ignored: the OS may cap the
// buffer and unprivileged processes may not be allowed some marks.
func tuneSocket(c *net.UDPConn, dscp int, v6 bool) {
	_ = c.SetReadBuffer(socketReadBuffer)
	if dscp < 0 {
		return
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		setTOS(fd, dscp<<2, v6)
	})
}

// socketTOS reads back the TOS byte of an IPv4 socket (for tests).
func socketTOS(s *mediaSock) (int, error) {
	if s.conn == nil {
		return getTOS(uintptr(s.fd))
	}
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = getTOS(fd) }); err != nil {
		return 0, err
	}
	return v, gerr
}
