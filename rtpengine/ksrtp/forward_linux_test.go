//go:build linux

package ksrtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/srtp/v3"

	"github.com/openborder/openborder/test/testenv"
)

// verdictRedirect is TC_ACT_REDIRECT: the datagram leaves by another device.
const verdictRedirect = 7

// TestForwardRewrite: with forwarding, the program rewrites addresses,
// ports, TOS and TTL to the other leg's, keeps both checksums valid, and
// delivers locally or redirects to the egress device; a datagram without
// a UDP checksum keeps none.
func TestForwardRewrite(t *testing.T) {
	d := loadOrSkip(t)
	from := netip.MustParseAddrPort("198.51.100.1:40002")
	to := netip.MustParseAddrPort("198.51.100.77:5004")
	enc := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
	for _, c := range []struct {
		name    string
		mode    Mode
		ifindex int
		verdict uint32
		nocsum  bool
	}{
		{"unprotect, local peer", Unprotect, 0, 0, false},
		{"protect, local peer", Protect, 0, 0, false},
		{"unprotect, peer behind a device", Unprotect, 1, verdictRedirect, false},
		{"protect, peer behind a device", Protect, 1, verdictRedirect, false},
		{"protect, no UDP checksum", Protect, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := Forward{From: from, To: to, Ifindex: c.ifindex, TOS: 46 << 2}
			if c.ifindex != 0 {
				out.NextHop = netip.MustParseAddr("198.51.100.254")
			}
			slot, err := d.Add(Stream{Mode: c.mode, Peer: peer, Local: local, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt, TagLen: 10, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Remove(slot)
			plain := rtpPacket(t, 0x11223344, 9, 161)
			in := plain
			if c.mode == Unprotect {
				in, _ = enc.EncryptRTP(nil, plain, nil)
			}
			f := frame(peer, local, in)
			f[15], f[22] = 0, 3 // TOS 0 and TTL 3 in; the checksum no longer matters
			binary.BigEndian.PutUint16(f[24:], 0)
			binary.BigEndian.PutUint16(f[24:], ^fold(sum16(f[14:34], 0)))
			if c.nocsum {
				binary.BigEndian.PutUint16(f[40:], 0)
			}
			got, v, _, err := d.p.testRun(f, 1)
			if err != nil || v != c.verdict {
				t.Fatalf("verdict %d (want %d) %v", v, c.verdict, err)
			}
			ip, udp := got[14:34], got[34:42]
			if a := netip.AddrFrom4([4]byte(ip[12:16])); a != from.Addr() || binary.BigEndian.Uint16(udp[0:]) != from.Port() {
				t.Fatalf("source %s:%d", a, binary.BigEndian.Uint16(udp[0:]))
			}
			if a := netip.AddrFrom4([4]byte(ip[16:20])); a != to.Addr() || binary.BigEndian.Uint16(udp[2:]) != to.Port() {
				t.Fatalf("destination %s:%d", a, binary.BigEndian.Uint16(udp[2:]))
			}
			if ip[1] != 46<<2 || ip[8] != 64 {
				t.Fatalf("TOS %#x TTL %d", ip[1], ip[8])
			}
			var pl []byte
			if c.nocsum {
				if binary.BigEndian.Uint16(udp[6:]) != 0 {
					t.Fatal("a datagram without a UDP checksum got one")
				}
				pl = got[42:]
			} else {
				pl = checkFrame(t, got)
			}
			if c.mode == Protect {
				dec := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
				if pl, err = dec.DecryptRTP(nil, pl, nil); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(pl, plain) {
				t.Fatal("payload differs")
			}
		})
	}
}

// udpSock opens a UDP socket on ip (any port), closed with the test.
func udpSock(t *testing.T, ip net.IP) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort {
	a := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// recvFrom reads datagrams on c until one arrives from src (or the
// deadline passes) and returns it.
func recvFrom(t *testing.T, c *net.UDPConn, src netip.AddrPort) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("nothing from %s: %v", src, err)
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) == src {
			return buf[:n]
		}
	}
}

// runStream runs both slots of an SRTP <-> RTP stream between a plain peer
// and a secure one, the kernel forwarding in both directions, and checks
// what each peer receives: from our port on its leg, transformed.
func runStream(t *testing.T, d *Datapath, plainPeer, plainLocal, secPeer, secLocal *net.UDPConn, plainOut, secOut Forward) {
	t.Helper()
	pp, pl, sp, sl := addrOf(plainPeer), addrOf(plainLocal), addrOf(secPeer), addrOf(secLocal)
	for _, s := range []Stream{
		{Mode: Protect, Peer: pp, Local: pl, SSRC: 1111, MasterKey: mkey, MasterSalt: msalt, TagLen: 10, Out: secOut},
		{Mode: Unprotect, Peer: sp, Local: sl, SSRC: 2222, MasterKey: mkey, MasterSalt: msalt, TagLen: 10, Out: plainOut},
	} {
		slot, err := d.Add(s)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Remove(slot)
	}
	enc, dec := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80), context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
	for seq := uint16(1); seq <= 20; seq++ {
		plain := rtpPacket(t, 1111, seq, 160)
		if _, err := plainPeer.WriteToUDPAddrPort(plain, pl); err != nil {
			t.Fatal(err)
		}
		got, err := dec.DecryptRTP(nil, recvFrom(t, secPeer, sl), nil)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("seq %d to the secure peer: %v", seq, err)
		}
		plain = rtpPacket(t, 2222, seq, 160)
		sec, _ := enc.EncryptRTP(nil, plain, nil)
		if _, err := secPeer.WriteToUDPAddrPort(sec, sl); err != nil {
			t.Fatal(err)
		}
		if got := recvFrom(t, plainPeer, pl); !bytes.Equal(got, plain) {
			t.Fatalf("seq %d to the plain peer: differs", seq)
		}
	}
	// Nothing reached our sockets: the kernel carried every datagram.
	for _, c := range []*net.UDPConn{plainLocal, secLocal} {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, from, err := c.ReadFromUDPAddrPort(make([]byte, 1500)); err == nil {
			t.Fatalf("%d bytes from %s reached %s", n, from, addrOf(c))
		}
	}
}

// TestForwardLoopback: peers on this host; the program carries an
// SRTP <-> RTP stream between them by itself, no conntrack involved.
func TestForwardLoopback(t *testing.T) {
	testenv.InNetns(t, nil, func() {
		d := loadOrSkip(t)
		if err := d.Attach(1, 0xc0de); err != nil {
			t.Fatal(err)
		}
		lo := net.IPv4(127, 0, 0, 1)
		a, x, y, b := udpSock(t, lo), udpSock(t, lo), udpSock(t, lo), udpSock(t, lo)
		runStream(t, d, a, x, b, y, Forward{From: addrOf(x), To: addrOf(a), TOS: 0xb8}, Forward{From: addrOf(y), To: addrOf(b), TOS: 0xb8})
	})
}

// TestForwardDevice: two peers on another host (a namespace behind a
// veth pair). The program sends each one's datagrams, transformed, out
// of the veth device to the other, resolving the neighbour itself.
func TestForwardDevice(t *testing.T) {
	testenv.RequireTool(t, "ip")
	remoteNS := fmt.Sprintf("obr%d", os.Getpid())
	testenv.InNetns(t, nil, func() {
		testenv.RemoteHost(t, remoteNS, "obs0", "10.77.0.1/24", "10.77.0.2/24", "10.77.0.3/24")
		ifi, err := net.InterfaceByName("obs0")
		if err != nil {
			t.Fatal(err)
		}
		d := loadOrSkip(t)
		for _, i := range []int{1, ifi.Index} {
			if err := d.Attach(i, 0xc0de); err != nil {
				t.Fatal(err)
			}
		}
		var ra, rb *net.UDPConn
		testenv.InNamedNetns(t, remoteNS, func() { ra, rb = udpSock(t, net.IPv4(10, 77, 0, 2)), udpSock(t, net.IPv4(10, 77, 0, 3)) })
		x, y := udpSock(t, net.IPv4(10, 77, 0, 1)), udpSock(t, net.IPv4(10, 77, 0, 1))
		runStream(t, d, ra, x, rb, y,
			Forward{From: addrOf(x), To: addrOf(ra), Ifindex: ifi.Index, NextHop: addrOf(ra).Addr(), TOS: 0xb8},
			Forward{From: addrOf(y), To: addrOf(rb), Ifindex: ifi.Index, NextHop: addrOf(rb).Addr()})
	})
}
