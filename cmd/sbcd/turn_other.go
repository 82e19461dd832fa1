//go:build !linux

package main

import (
	"fmt"
	"net"
)

// listenTURNUDP opens the socket of one TURN UDP listener.
func listenTURNUDP(addr string) ([]net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("turn listener: %w", err)
	}
	return []net.PacketConn{pc}, nil
}
