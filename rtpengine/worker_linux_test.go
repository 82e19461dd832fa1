//go:build linux

package rtpengine

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

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

// TestKernelReceiveTime: a raw media socket delivers each datagram's
// kernel receive time, and rxTime turns it into the engine's monotonic
// clock: a datagram that waited 30 ms in the socket buffer is dated about
// 30 ms before the read, and a missing or wild timestamp falls back to
// the read time or is clamped to a second.
func TestKernelReceiveTime(t *testing.T) {
	if got := unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))); got > rxCmsgSpace {
		t.Fatalf("CMSG_SPACE(timespec) = %d, buffer %d", got, rxCmsgSpace)
	}
	s, err := openRaw(netip.MustParseAddrPort("127.0.0.1:0"), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rawClose(s.fd)
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	var w worker
	buf := make([]byte, 64)
	w.iovs[0].Base = &buf[0]
	w.iovs[0].SetLen(len(buf))
	h := &w.msgs[0].hdr
	h.Iov = &w.iovs[0]
	h.SetIovlen(1)
	h.Control = &w.ctrl[0][0]
	h.SetControllen(rxCmsgSpace)
	if _, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(h)), unix.MSG_DONTWAIT); errno != 0 {
		t.Fatal(errno)
	}
	now, wall := monoNow(), time.Now().UnixNano()
	if age := time.Duration(now - rxTime(h, now, wall)); age < 29*time.Millisecond || age > time.Second {
		t.Fatalf("datagram aged %v in the socket buffer, want about 30 ms", age)
	}
	if got := rxTime(h, now, wall+int64(time.Hour)); got != now-int64(time.Second) {
		t.Errorf("wall clock an hour ahead: %d, want now - 1 s", now-got)
	}
	if got := rxTime(h, now, wall-int64(time.Hour)); got != now {
		t.Errorf("wall clock an hour behind: %d before now, want now", now-got)
	}
	h.SetControllen(0)
	if got := rxTime(h, now, wall); got != now {
		t.Errorf("no control message: %d before now, want now", now-got)
	}
}

// TestNiceWorkers: niceThread lowers the calling thread's priority (the
// pool's workers with TranscodeConfig.WorkerNice), and only that thread's.
func TestNiceWorkers(t *testing.T) {
	ch := make(chan [2]int, 1)
	go func() {
		runtime.LockOSThread() // ends locked: the niced thread is discarded
		before, _ := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		err := niceThread(5)
		after, _ := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			t.Error(err)
		}
		ch <- [2]int{20 - before, 20 - after}
	}()
	got := <-ch
	if got[1] != min(got[0]+5, 19) {
		t.Errorf("nice %d -> %d, want +5", got[0], got[1])
	}
}
