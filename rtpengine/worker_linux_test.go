//go:build linux

package rtpengine

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSockaddrRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name  string
		dst   string
		v6    bool
		ok    bool
		nl    uint32
		comes string // what the receive side reads back
	}{
		{"v4 on v4 socket", "127.0.0.1:5004", false, true, unix.SizeofSockaddrInet4, "127.0.0.1:5004"},
		{"mapped v4 on v4 socket", "[::ffff:10.0.0.1]:6000", false, true, unix.SizeofSockaddrInet4, "10.0.0.1:6000"},
		{"v6 on v4 socket", "[2001:db8::1]:5004", false, false, 0, ""},
		{"v6 on v6 socket", "[2001:db8::1]:65535", true, true, unix.SizeofSockaddrInet6, "[2001:db8::1]:65535"},
		{"v4 on dual-stack socket", "192.0.2.7:1", true, true, unix.SizeofSockaddrInet6, "192.0.2.7:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sa unix.RawSockaddrInet6
			nl, ok := toSockaddr(&sa, netip.MustParseAddrPort(tt.dst), tt.v6)
			if ok != tt.ok || nl != tt.nl {
				t.Fatalf("toSockaddr = %d, %v; want %d, %v", nl, ok, tt.nl, tt.ok)
			}
			if !ok {
				return
			}
			got, ok := fromSockaddr(&sa)
			if !ok || got != netip.MustParseAddrPort(tt.comes) {
				t.Fatalf("fromSockaddr = %v, %v; want %s", got, ok, tt.comes)
			}
		})
	}
	var bad unix.RawSockaddrInet6
	bad.Family = unix.AF_UNIX
	if _, ok := fromSockaddr(&bad); ok {
		t.Fatal("AF_UNIX source accepted")
	}
}

// TestEpollRelayReusedDescriptors churns calls so that new sockets reuse
// the descriptor numbers of released ones while traffic flows, and checks
// that every packet reaches the peer of its own call only.
func TestEpollRelayReusedDescriptors(t *testing.T) {
	e := newTestEngine(t, 42400, netip.Addr{}, func(c *Config) { c.Relay = RelayEpoll; c.RelayWorkers = 2; c.PortDrain = time.Nanosecond })
	a, b := newPeer(t), newPeer(t)
	stray := newPeer(t) // keeps sending to the ports of released calls
	for i := range 30 {
		id := fmt.Sprintf("churn-%d", i)
		sbcA, sbcB := relayCall(t, e, id, a, b)
		seq := uint16(i*2 + 1)
		a.send(rtpPacket(0, seq, 0, 0x10, 20), sbcA)
		expectRTP(t, b, seq, sbcB)
		b.send(rtpPacket(0, seq+1, 0, 0x20, 20), sbcB)
		expectRTP(t, a, seq+1, sbcA)
		if _, err := e.Delete(id, ""); err != nil {
			t.Fatal(err)
		}
		stray.send(rtpPacket(0, 999, 0, 0x30, 20), sbcA)
	}
	expectNothing(t, a)
	expectNothing(t, b)
	if n := e.first.inUse(); n != 0 {
		t.Fatalf("%d port pairs still in use", n)
	}
}

// TestEpollRelayIPv6 relays between two IPv6 loopback peers.
func TestEpollRelayIPv6(t *testing.T) {
	v6 := netip.MustParseAddr("::1")
	pc, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		skipUnlessCI(t, "no IPv6 loopback: %v", err)
	}
	_ = pc.Close()
	e := newTestEngine(t, 42440, netip.Addr{}, func(c *Config) {
		c.Relay = RelayEpoll
		for i := range c.Interfaces {
			c.Interfaces[i].Addr = v6
		}
	})
	mk := func() *peer {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &peer{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
	}
	a, b := mk(), mk()
	sdp := func(port uint16) []byte {
		return []byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\n" +
			fmt.Sprintf("m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", port))
	}
	ctx := t.Context()
	off, err := e.Offer(ctx, OfferRequest{CallID: "v6", FromTag: "a", SDP: sdp(a.addr.Port()),
		Flags: Flags{FromInterface: "access", ToInterface: "core"}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "v6", FromTag: "a", ToTag: "b", SDP: sdp(b.addr.Port())})
	if err != nil {
		t.Fatal(err)
	}
	sbcA := netip.AddrPortFrom(v6, uint16(sdpMediaPorts(t, ans)[0]))
	sbcB := netip.AddrPortFrom(v6, uint16(sdpMediaPorts(t, off)[0]))
	a.send(rtpPacket(0, 7, 0, 1, 20), sbcA)
	expectRTP(t, b, 7, sbcB)
	b.send(rtpPacket(0, 8, 0, 2, 20), sbcB)
	expectRTP(t, a, 8, sbcA)
}

// TestEpollRelayDualStack binds the unspecified IPv4 address (a dual-stack
// socket, like net.ListenUDP) and relays IPv4 peers through it.
func TestEpollRelayDualStack(t *testing.T) {
	e := newTestEngine(t, 42480, loopback, func(c *Config) {
		c.Relay = RelayEpoll
		for i := range c.Interfaces {
			c.Interfaces[i].Addr = netip.IPv4Unspecified()
			c.Interfaces[i].Advertised = loopback
		}
	})
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "ds", a, b)
	a.send(rtpPacket(0, 1, 0, 1, 20), sbcA)
	expectRTP(t, b, 1, sbcB)
	b.send(rtpPacket(0, 2, 0, 2, 20), sbcB)
	expectRTP(t, a, 2, sbcA)
}
