//go:build linux

package kfwd

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/test/testenv"
)

// inNetns runs fn inside a fresh network namespace with conntrack
// accounting on and the NAT hooks registered, the set-up sbcd documents.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	testenv.RequireTool(t, "iptables")
	testenv.InNetns(t, testenv.KernelNATHooks, fn)
}

func udp(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads one datagram and checks its payload and source.
func expect(t *testing.T, c *net.UDPConn, payload, from string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	b := make([]byte, 100)
	n, src, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatalf("%s: no datagram: %v", c.LocalAddr(), err)
	}
	if string(b[:n]) != payload || src.String() != from {
		t.Fatalf("%s got %q from %s, want %q from %s", c.LocalAddr(), b[:n], src, payload, from)
	}
}

func TestForwardInKernel(t *testing.T) {
	inNetns(t, func() {
		c, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a := udp(t, "127.0.0.1:5000")  // peer A
		x := udp(t, "127.0.0.1:20000") // our port on leg A
		y := udp(t, "127.0.0.1:20002") // our port on leg B
		b := udp(t, "127.0.0.1:6000")  // peer B
		// Before offload: the relay's own traffic leaves null-binding
		// entries for both tuples, which Forward must replace.
		mustSend(t, a, "pre", x)
		expect(t, x, "pre", "127.0.0.1:5000")
		mustSend(t, y, "pre", b)
		expect(t, b, "pre", "127.0.0.1:20002")

		f := Flow{Orig: Tuple{Src: ap("127.0.0.1:5000"), Dst: ap("127.0.0.1:20000")},
			DNAT: ap("127.0.0.1:6000"), SNAT: ap("127.0.0.1:20002"), Timeout: 30}
		if err := c.Forward(f); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			mustSend(t, a, fmt.Sprint("a", i), x)
			expect(t, b, fmt.Sprint("a", i), "127.0.0.1:20002")
			mustSend(t, b, fmt.Sprint("b", i), y)
			expect(t, a, fmt.Sprint("b", i), "127.0.0.1:20000")
		}
		// Nothing reached our sockets.
		_ = x.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _, err := x.ReadFromUDP(make([]byte, 10)); err == nil {
			t.Fatalf("user space got %d bytes on leg A", n)
		}
		e, err := c.Get(f.Orig)
		if err != nil {
			t.Fatal(err)
		}
		if !e.HasCounters || e.OrigCnt.Packets != 5 || e.ReplyCnt.Packets != 5 || e.OrigCnt.Bytes != 5*30 {
			t.Fatalf("counters %+v", e)
		}
		if e.Reply != f.Reply() || e.Status&StatusDstNAT == 0 {
			t.Fatalf("entry %+v", e)
		}
		list, err := c.List(unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range list {
			found = found || x.Orig == f.Orig
		}
		if !found {
			t.Fatalf("List did not return the entry: %+v", list)
		}
		if err := c.Delete(f.Orig, false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(f.Orig); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("Get after Delete: %v", err)
		}
		// User space has the stream again.
		mustSend(t, a, "post", x)
		expect(t, x, "post", "127.0.0.1:5000")
	})
}

func mustSend(t *testing.T, from *net.UDPConn, payload string, to *net.UDPConn) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort([]byte(payload), to.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
}

func TestForwardInKernelIPv6(t *testing.T) {
	inNetns(t, func() {
		c, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a, x, y, b := udp(t, "[::1]:5000"), udp(t, "[::1]:20000"), udp(t, "[::1]:20002"), udp(t, "[::1]:6000")
		f := Flow{Orig: Tuple{Src: ap("[::1]:5000"), Dst: ap("[::1]:20000")}, DNAT: ap("[::1]:6000"), SNAT: ap("[::1]:20002"), Timeout: 30}
		if err := c.Forward(f); err != nil {
			t.Fatal(err)
		}
		mustSend(t, a, "a6", x)
		expect(t, b, "a6", "[::1]:20002")
		mustSend(t, b, "b6", y)
		expect(t, a, "b6", "[::1]:20000")
		list, err := c.List(unix.AF_INET6)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.Orig == f.Orig {
				if e.Reply != f.Reply() || e.OrigCnt.Packets != 1 || e.ReplyCnt.Packets != 1 {
					t.Fatalf("entry %+v", e)
				}
				return
			}
		}
		t.Fatalf("no IPv6 entry in %+v", list)
	})
}
