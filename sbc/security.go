package sbc

import (
	"net"
	"net/netip"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/sbc/guard"
)

// The border defence (package guard) runs on the realms' sockets, before
// sipgo parses anything: every listener's connection is wrapped so that
// refused messages are answered or dropped on the read loop and never
// reach the transport layer. The guard's rules follow the policy on
// Reload; its blacklist and buckets live as long as the B2BUA.

// Guard returns the B2BUA's border defence: the blacklist API and the
// hook authentication reports failures to (ReportAuthFailure).
func (b *B2BUA) Guard() *guard.Guard { return b.guard }

// guardPacketConn wraps a realm's UDP socket with the guard.
func (r *realm) guardPacketConn(pc net.PacketConn) net.PacketConn {
	return r.b.guard.WrapPacketConn(r.name, pc)
}

// guardListener wraps a realm's stream listener (after TLS, so the guard
// sees SIP) with the guard.
func (r *realm) guardListener(l net.Listener) net.Listener {
	return r.b.guard.WrapListener(r.name, l)
}

// wsFilter runs the guard on SIP over WebSocket, whose frames sipgo reads
// itself: each frame is one message. Refused messages are dropped (the
// filter cannot answer). UDP, TCP and TLS pass untouched: their sockets
// are wrapped.
func (r *realm) wsFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.Transport != "WS" && p.Transport != "WSS" {
		return data, nil
	}
	src, _ := netip.ParseAddrPort(p.RemoteAddr.String())
	var m guard.Msg
	if v := r.b.guard.Inspect(r.name, src, false, data, &m); v.Stage != "" {
		return nil, nil
	}
	return data, nil
}

// maxUDPMessage is the largest SIP message sbcd sends in one UDP
// datagram: the IPv4 UDP payload limit. sipgo refuses to send anything
// over 1,300 bytes on UDP (RFC 3261 18.1.1 asks a client to switch such a
// request to TCP, which sipgo does not do), so an answer to a long but
// valid request, whose Via, From and To it must copy, was never sent. A
// larger datagram is fragmented by IP, as other SIP servers do.
const maxUDPMessage = 65507

var udpLimitOnce sync.Once

// liftUDPLimit raises sipgo's UDP size bound (a package variable read on
// every UDP send) to maxUDPMessage. It runs once, before any B2BUA starts
// a transport, so no send races with the write.
func liftUDPLimit() {
	udpLimitOnce.Do(func() {
		if sip.UDPMTUSize < maxUDPMessage+200 {
			sip.UDPMTUSize = maxUDPMessage + 200
		}
	})
}
