//go:build linux

package rtpengine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/test/testenv"
)

// TestRouteTo: a peer's route from the kernel's table: its own address
// as the next hop on a connected network, the gateway behind one; a
// device without Ethernet framing is refused.
func TestRouteTo(t *testing.T) {
	setup := [][]string{
		{"ip", "link", "add", "obd0", "type", "veth", "peer", "name", "obd1"},
		{"ip", "addr", "add", "10.88.0.1/24", "dev", "obd0"},
		{"ip", "link", "set", "obd1", "up"},
		{"ip", "link", "set", "obd0", "up"},
		{"ip", "route", "add", "10.99.0.0/24", "via", "10.88.0.254"},
		{"ip", "tuntap", "add", "obt0", "mode", "tun"},
		{"ip", "addr", "add", "10.77.0.1/24", "dev", "obt0"},
		{"ip", "link", "set", "obt0", "up"},
	}
	testenv.InNetns(t, setup, func() {
		ifi, err := net.InterfaceByName("obd0")
		if err != nil {
			t.Fatal(err)
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		lookup := func(a netip.Addr) (route, error) { return routeTo(h, a) }
		for _, c := range []struct{ peer, nh string }{{"10.88.0.5", "10.88.0.5"}, {"10.99.0.7", "10.88.0.254"}} {
			r, err := lookup(netip.MustParseAddr(c.peer))
			if err != nil || r.local || r.ifindex != ifi.Index || r.nh != netip.MustParseAddr(c.nh) {
				t.Fatalf("route to %s: %+v %v; want device %d, next hop %s", c.peer, r, err, ifi.Index, c.nh)
			}
		}
		for _, a := range []string{"10.88.0.1", "127.0.0.1"} {
			if r, err := lookup(netip.MustParseAddr(a)); err != nil || !r.local {
				t.Fatalf("route to %s, an address of ours: %+v %v", a, r, err)
			}
		}
		if _, err := lookup(netip.MustParseAddr("10.77.0.9")); err == nil || !strings.Contains(err.Error(), "framing") {
			t.Fatalf("route over a tun device: %v", err)
		}
		if _, err := lookup(netip.MustParseAddr("192.0.2.9")); err == nil {
			t.Fatal("no default route, yet a route")
		}
	})
}

// TestKernelSRTPRemotePeers: both peers on another host (a namespace
// behind a veth pair). Once the stream is in the kernel, the program
// sends each packet, transformed, out of the veth device to the other
// peer from our port on its leg: the engine found the device and next
// hop in the routing table, and no conntrack entry is involved.
func TestKernelSRTPRemotePeers(t *testing.T) {
	remoteNS := fmt.Sprintf("obk%d", os.Getpid())
	testenv.RequireTool(t, "iptables")
	testenv.InNetns(t, testenv.KernelNATHooks, func() {
		testenv.RemoteHost(t, remoteNS, "obs0", "10.77.0.1/24", "10.77.0.2/24", "10.77.0.3/24")
		ours := netip.MustParseAddr("10.77.0.1")
		e := newTestEngine(t, 43940, netip.Addr{}, func(c *Config) {
			c.Kernel = KernelOn
			c.Interfaces[0].Addr, c.Interfaces[1].Addr = ours, ours
		})
		if m := e.KernelMetrics(); m.SRTP != "on" {
			t.Fatalf("in-kernel SRTP %q", m.SRTP)
		}
		var a, b *peer
		testenv.InNamedNetns(t, remoteNS, func() { // the peers' sockets live in the remote namespace
			for _, x := range []struct {
				p  **peer
				ip net.IP
			}{{&a, net.IPv4(10, 77, 0, 2)}, {&b, net.IPv4(10, 77, 0, 3)}} {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: x.ip})
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { _ = c.Close() })
				*x.p = &peer{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
			}
		})
		if t.Failed() {
			return
		}
		at := func(b []byte, ip string) []byte { return []byte(strings.ReplaceAll(string(b), "127.0.0.1", ip)) }
		ctx := context.Background()
		off, err := e.Offer(ctx, OfferRequest{CallID: "kr", FromTag: "a", SDP: at(peerSDP(a.addr.Port(), "sendrecv"), "10.77.0.2"),
			Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/SAVP"}})
		if err != nil {
			t.Fatal(err)
		}
		key := cryptoOf(t, off)[1]
		bKey := newCrypto(1, key.suite)
		ans, err := e.Answer(ctx, AnswerRequest{CallID: "kr", FromTag: "a", ToTag: "b", SDP: at(savpSDP(b.addr.Port(), bKey), "10.77.0.3")})
		if err != nil {
			t.Fatal(err)
		}
		sbcA := netip.AddrPortFrom(ours, uint16(sdpMediaPorts(t, ans)[0]))
		sbcB := netip.AddrPortFrom(ours, uint16(sdpMediaPorts(t, off)[0]))
		bIn, bOut := srtpCtx(t, key, true), srtpCtx(t, bKey, false)
		seq := uint16(1)
		exchange := func() {
			t.Helper()
			plain := rtpPacket(0, seq, uint32(seq)*160, 0x1111, 160)
			a.send(plain, sbcA)
			got, from, ok := b.recv(2 * time.Second)
			if !ok || from != sbcB {
				t.Fatalf("a->b seq %d: ok %v, from %s (want %s)", seq, ok, from, sbcB)
			}
			if dec, err := bIn.DecryptRTP(nil, got, nil); err != nil || !bytes.Equal(dec, plain) {
				t.Fatalf("a->b seq %d: %v", seq, err)
			}
			plain = rtpPacket(0, seq, uint32(seq)*160, 0x2222, 160)
			enc, _ := bOut.EncryptRTP(nil, plain, nil)
			b.send(enc, sbcB)
			got, from, ok = a.recv(2 * time.Second)
			if !ok || from != sbcA || !bytes.Equal(got, plain) {
				t.Fatalf("b->a seq %d: ok %v, from %s (want %s)", seq, ok, from, sbcA)
			}
			seq++
		}
		exchange()
		waitFor(t, 2*time.Second, "srtp offload", func() bool { return e.KernelMetrics().SRTPOffloaded == 1 })
		for range 20 {
			exchange()
		}
		waitFor(t, 2*time.Second, "kernel counters", func() bool { return e.KernelMetrics().Packets >= 40 })
		if n := len(kernelEntries(t, e)); n != 0 {
			t.Fatalf("%d conntrack entries", n)
		}
		if m := e.KernelMetrics(); m.Failures != 0 {
			t.Fatalf("kernel metrics %+v", m)
		}
	})
}
