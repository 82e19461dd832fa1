package rtpengine

import (
	"net"
)

// socketReadBuffer is the receive buffer asked for on media sockets.
const socketReadBuffer = 1 << 20

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
func socketTOS(c *net.UDPConn) (int, error) {
	rc, err := c.SyscallConn()
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
