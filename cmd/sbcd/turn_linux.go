//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenTURNUDP opens the sockets of one TURN UDP listener: one per
// processor (up to 8), sharing the address with SO_REUSEPORT, so the
// kernel spreads clients (by their address) over as many reading
// goroutines instead of one socket and one reader taking every client's
// packets. A listener on port 0 gets a single socket.
func listenTURNUDP(addr string) ([]net.PacketConn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("turn listener %s: %w", addr, err)
	}
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	if ap.Port() == 0 {
		n = 1
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var out []net.PacketConn
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, fmt.Errorf("turn listener: %w", err)
		}
		out = append(out, pc)
	}
	return out, nil
}
