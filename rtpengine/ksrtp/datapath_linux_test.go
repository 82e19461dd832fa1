//go:build linux

package ksrtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/test/testenv"
)

// verdictNext is TC_ACT_UNSPEC as the test run reports it: a datagram
// that is not the program's goes on to the next filter.
const verdictNext = ^uint32(0)

var (
	peer  = netip.MustParseAddrPort("192.0.2.10:4000")
	local = netip.MustParseAddrPort("192.0.2.1:30000")
	mkey  = []byte("0123456789abcdef")
	msalt = []byte("saltsaltsaltsa")
)

// loadOrSkip loads the program; without the privilege to, the test is
// skipped (outside CI) or fails (in CI).
func loadOrSkip(t testing.TB) *Datapath {
	t.Helper()
	d, err := Load()
	if errors.Is(err, unix.EPERM) {
		testenv.SkipUnlessCI(t, "loading a BPF program needs CAP_BPF: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// frame wraps an RTP datagram in Ethernet, IPv4 and UDP headers with
// valid checksums.
func frame(src, dst netip.AddrPort, payload []byte) []byte {
	f := make([]byte, 42+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(28+len(payload)))
	ip[8], ip[9] = 64, 17
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip, 0)))
	udp := f[34:]
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	c := ^fold(udpSum(f))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return f
}

func sum16(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// udpSum is the sum over the pseudo header and the UDP datagram of f.
func udpSum(f []byte) uint32 {
	ip, udp := f[14:34], f[34:]
	s := sum16(ip[12:20], 0) + 17 + uint32(len(udp))
	return sum16(udp, s)
}

// checkFrame verifies the lengths and both checksums of a frame the
// program passed on and returns its UDP payload.
func checkFrame(t *testing.T, f []byte) []byte {
	t.Helper()
	ip, udp := f[14:34], f[34:]
	if int(binary.BigEndian.Uint16(ip[2:])) != len(f)-14 || int(binary.BigEndian.Uint16(udp[4:])) != len(udp) {
		t.Fatalf("lengths: ip %d udp %d for a %d-byte frame", binary.BigEndian.Uint16(ip[2:]), binary.BigEndian.Uint16(udp[4:]), len(f))
	}
	if fold(sum16(ip, 0)) != 0xffff {
		t.Fatalf("IP checksum wrong")
	}
	if fold(udpSum(f)) != 0xffff {
		t.Fatalf("UDP checksum wrong")
	}
	return udp[8:]
}

func rtpPacket(t testing.TB, ssrc uint32, seq uint16, n int) []byte {
	pl := make([]byte, n)
	for i := range pl {
		pl[i] = byte(int(seq) + i*7)
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: pl}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func context(t testing.TB, profile srtp.ProtectionProfile, opts ...srtp.ContextOption) *srtp.Context {
	c, err := srtp.CreateContext(mkey, msalt, profile, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addStream(t testing.TB, d *Datapath, mode Mode, tag int, roc uint32) Slot {
	t.Helper()
	s, err := d.Add(Stream{Mode: mode, Peer: peer, Local: local, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt, TagLen: tag, ROC: roc})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUnprotect decrypts what pion encrypts, across a sequence number
// wrap, for both tag lengths, with correct lengths and checksums.
func TestUnprotect(t *testing.T) {
	d := loadOrSkip(t)
	for _, c := range []struct {
		profile srtp.ProtectionProfile
		tag     int
	}{{srtp.ProtectionProfileAes128CmHmacSha1_80, 10}, {srtp.ProtectionProfileAes128CmHmacSha1_32, 4}} {
		enc := context(t, c.profile)
		enc.SetROC(0x11223344, 3)
		slot := addStream(t, d, Unprotect, c.tag, 3)
		n := 0
		for seq := uint16(65530); seq != 10; seq++ {
			plain := rtpPacket(t, 0x11223344, seq, 160+int(seq%4)) // partial last words, odd tag offsets
			sp, err := enc.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, verdict, _, err := d.p.testRun(frame(peer, local, sp), 1)
			if err != nil {
				t.Fatal(err)
			}
			if verdict != 0 {
				t.Fatalf("tag %d seq %d: verdict %d, counters %+v", c.tag, seq, verdict, d.Counters(slot))
			}
			if got := checkFrame(t, out); !bytes.Equal(got, plain) {
				t.Fatalf("tag %d seq %d: decrypted %x\nwant %x", c.tag, seq, got[:24], plain[:24])
			}
			n++
		}
		got := d.Remove(slot)
		if got.Packets != uint64(n) || got.ROC() != 4 || got.Index&0xffff != 9 || got.AuthFail+got.Replayed+got.Other != 0 {
			t.Fatalf("tag %d: counters %+v after %d packets", c.tag, got, n)
		}
	}
}

// TestUnprotectDrops: a forged tag, a replay, an old packet, another
// SSRC and RTCP are dropped and counted; another source passes untouched.
func TestUnprotectDrops(t *testing.T) {
	d := loadOrSkip(t)
	enc := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
	slot := addStream(t, d, Unprotect, 10, 0)
	var sent [][]byte
	for seq := uint16(1000); seq < 1100; seq++ {
		sp, _ := enc.EncryptRTP(nil, rtpPacket(t, 0x11223344, seq, 160), nil)
		sent = append(sent, sp)
	}
	run := func(src netip.AddrPort, b []byte) uint32 {
		t.Helper()
		_, v, _, err := d.p.testRun(frame(src, local, b), 1)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := 1; i < len(sent); i++ {
		if v := run(peer, sent[i]); v != 0 {
			t.Fatalf("packet %d dropped", i)
		}
	}
	forged, _ := enc.EncryptRTP(nil, rtpPacket(t, 0x11223344, 1100, 160), nil)
	forged[len(forged)-1] ^= 1
	other, _ := enc.EncryptRTP(nil, rtpPacket(t, 0x55667788, 1, 160), nil)
	rtcp := bytes.Clone(sent[1])
	rtcp[1] = 200
	for name, c := range map[string]struct {
		b       []byte
		verdict uint32
	}{
		"forged":  {forged, 2},
		"replay":  {sent[50], 2},
		"too old": {sent[0], 2}, // 99 packets behind the newest, past the 64-packet window
		"ssrc":    {other, 2},
		"rtcp":    {rtcp, 2},
	} {
		if v := run(peer, c.b); v != c.verdict {
			t.Errorf("%s: verdict %d", name, v)
		}
	}
	stranger := netip.MustParseAddrPort("192.0.2.99:4000")
	in := frame(stranger, local, sent[60])
	out, v, _, _ := d.p.testRun(in, 1)
	if v != verdictNext || !bytes.Equal(out, in) {
		t.Errorf("another source's packet was touched (verdict %d)", v)
	}
	got := d.Counters(slot)
	if got.Packets != 99 || got.AuthFail != 1 || got.Replayed != 2 || got.Other != 2 {
		t.Fatalf("counters %+v", got)
	}
}

// TestProtect encrypts RTP so that pion decrypts it, for both tag
// lengths, across a wrap.
func TestProtect(t *testing.T) {
	d := loadOrSkip(t)
	for _, c := range []struct {
		profile srtp.ProtectionProfile
		tag     int
	}{{srtp.ProtectionProfileAes128CmHmacSha1_80, 10}, {srtp.ProtectionProfileAes128CmHmacSha1_32, 4}} {
		dec := context(t, c.profile, srtp.SRTPReplayProtection(64))
		slot := addStream(t, d, Protect, c.tag, 0)
		for seq := uint16(65500); seq != 40; seq++ {
			plain := rtpPacket(t, 0x11223344, seq, 160+int(seq%4)) // partial last words, odd tag offsets
			out, verdict, _, err := d.p.testRun(frame(peer, local, plain), 1)
			if err != nil || verdict != 0 {
				t.Fatalf("seq %d: verdict %d %v", seq, verdict, err)
			}
			sp := checkFrame(t, out)
			if len(sp) != len(plain)+c.tag {
				t.Fatalf("seq %d: %d bytes out of %d", seq, len(sp), len(plain))
			}
			got, err := dec.DecryptRTP(nil, sp, nil)
			if err != nil {
				t.Fatalf("tag %d seq %d: pion: %v", c.tag, seq, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("seq %d: round trip differs", seq)
			}
		}
		if got := d.Remove(slot); got.ROC() != 1 || got.Packets != 76 {
			t.Fatalf("counters %+v", got)
		}
	}
}

// TestPortTable: one slot per port, slots of removed streams rest
// before reuse, and a removed stream's packets pass untouched.
func TestPortTable(t *testing.T) {
	d := loadOrSkip(t)
	s := addStream(t, d, Unprotect, 10, 0)
	if _, err := d.Add(Stream{Mode: Protect, Peer: peer, Local: local, MasterKey: mkey, MasterSalt: msalt, TagLen: 10}); !errors.Is(err, ErrPortBusy) {
		t.Fatalf("second stream on a port: %v", err)
	}
	d.Remove(s)
	in := frame(peer, local, rtpPacket(t, 0x11223344, 1, 160))
	out, v, _, _ := d.p.testRun(in, 1)
	if v != verdictNext || !bytes.Equal(out, in) {
		t.Fatal("removed stream still handled")
	}
	s2 := addStream(t, d, Unprotect, 10, 0)
	if s2 == s {
		t.Fatal("slot reused at once")
	}
}

// BenchmarkKernel measures the program per packet (the kernel's own
// timing of each run, without the system call), 172-byte RTP; "miss" is
// a datagram of no offloaded stream, what every other IPv4 datagram on
// an interface with the program attached costs.
func BenchmarkKernel(b *testing.B) {
	d := loadOrSkip(b)
	b.Run("miss", func(b *testing.B) {
		f := frame(peer, netip.MustParseAddrPort("192.0.2.1:30002"), rtpPacket(b, 0x11223344, 1, 160))
		var total uint64
		n := 0
		for b.Loop() {
			_, v, ns, err := d.p.testRun(f, 1)
			if err != nil || v != verdictNext {
				b.Fatalf("verdict %d %v", v, err)
			}
			total += uint64(ns)
			n++
		}
		b.ReportMetric(float64(total)/float64(max(n, 1)), "kernel-ns/pkt")
	})
	for _, mode := range []Mode{Unprotect, Protect} {
		name := map[Mode]string{Unprotect: "unprotect", Protect: "protect"}[mode]
		b.Run(name+"/AES_CM_128_HMAC_SHA1_80", func(b *testing.B) {
			slot := addStream(b, d, mode, 10, 0)
			defer d.Remove(slot)
			enc := context(b, srtp.ProtectionProfileAes128CmHmacSha1_80)
			frames := make([][]byte, 0, 4096)
			for i := 0; i < cap(frames); i++ {
				p := rtpPacket(b, 0x11223344, uint16(i), 160)
				if mode == Unprotect {
					p, _ = enc.EncryptRTP(nil, p, nil)
				}
				frames = append(frames, frame(peer, local, p))
			}
			var total uint64
			n := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				f := frames[i%len(frames)]
				if mode == Unprotect && i >= len(frames) {
					b.StopTimer() // each SRTP packet is accepted once
					break
				}
				_, v, ns, err := d.p.testRun(f, 1)
				if err != nil || v != 0 {
					b.Fatalf("verdict %d %v", v, err)
				}
				total += uint64(ns)
				n++
			}
			b.ReportMetric(float64(total)/float64(max(n, 1)), "kernel-ns/pkt")
		})
	}
}

// TestAttachLoopback runs the program on loopback's ingress in a fresh
// network namespace: a datagram between two sockets is protected on the
// way, and Close takes the filter away again.
func TestAttachLoopback(t *testing.T) {
	testenv.RequireTool(t, "tc")
	testenv.InNetns(t, nil, func() {
		d := loadOrSkip(t)
		if err := d.Attach(1, 0xc0de); err != nil {
			t.Fatal(err)
		}
		stats, err := EnableStats()
		if err != nil {
			t.Fatal(err)
		}
		defer stats.Close()
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		aAddr, bAddr := a.LocalAddr().(*net.UDPAddr).AddrPort(), b.LocalAddr().(*net.UDPAddr).AddrPort()
		slot, err := d.Add(Stream{Mode: Protect, Peer: aAddr, Local: bAddr, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt, TagLen: 10})
		if err != nil {
			t.Fatal(err)
		}
		plain := rtpPacket(t, 0x11223344, 7, 160)
		if _, err := a.WriteToUDPAddrPort(plain, bAddr); err != nil {
			t.Fatal(err)
		}
		_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		n, _, err := b.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80).DecryptRTP(nil, buf[:n], nil)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("received %d bytes that do not decrypt to what was sent: %v", n, err)
		}
		if c := d.Counters(slot); c.Packets != 1 {
			t.Fatalf("counters %+v", c)
		}
		// The kernel timed the program's runs (the datagram, maybe
		// others on loopback) and knows what its verifier checked.
		if rs, err := d.RunStats(); err != nil || rs.Runs < 1 || rs.RunNs == 0 || rs.VerifiedInsns == 0 {
			t.Fatalf("run statistics %+v, %v", rs, err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("tc", "filter", "show", "dev", "lo", "ingress").CombinedOutput()
		if err != nil || strings.Contains(string(out), filterName) {
			t.Fatalf("filter left behind (%v):\n%s", err, out)
		}
	})
}

// TestHandOverAtWrap: a stream handed over right before a wrap (the
// user-space context's last packet was 65535) continues with ROC + 1 in
// both modes, as the far end expects.
func TestHandOverAtWrap(t *testing.T) {
	d := loadOrSkip(t)
	enc := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
	enc.SetROC(0x11223344, 6)
	dec := context(t, srtp.ProtectionProfileAes128CmHmacSha1_80)
	dec.SetROC(0x11223344, 6)
	// Both user-space contexts have handled 65535 of ROC 6.
	last := rtpPacket(t, 0x11223344, 65535, 160)
	sp, _ := enc.EncryptRTP(nil, last, nil)
	if _, err := dec.DecryptRTP(nil, sp, nil); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{Unprotect, Protect} {
		slot, err := d.Add(Stream{Mode: mode, Peer: peer, Local: local, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt,
			TagLen: 10, ROC: 6, LastSeq: 65535, SeqKnown: true})
		if err != nil {
			t.Fatal(err)
		}
		plain := rtpPacket(t, 0x11223344, 0, 160)
		in := plain
		if mode == Unprotect {
			in, _ = enc.EncryptRTP(nil, plain, nil)
		}
		out, v, _, err := d.p.testRun(frame(peer, local, in), 1)
		if err != nil || v != 0 {
			t.Fatalf("mode %d: verdict %d %v", mode, v, err)
		}
		got := checkFrame(t, out)
		if mode == Protect {
			if got, err = dec.DecryptRTP(nil, got, nil); err != nil {
				t.Fatalf("protected after the wrap: %v", err)
			}
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("mode %d: wrong packet after the wrap", mode)
		}
		if c := d.Remove(slot); c.ROC() != 7 {
			t.Fatalf("mode %d: ROC %d after the wrap", mode, c.ROC())
		}
	}
}

// TestTwoFilters: two programs on the same hook (two sbcd processes on a
// host, e.g. media nodes) each handle their own streams: a datagram the
// first does not own goes on to the second.
func TestTwoFilters(t *testing.T) {
	testenv.InNetns(t, nil, func() {
		d1, d2 := loadOrSkip(t), loadOrSkip(t)
		if err := d1.Attach(1, 100); err != nil {
			t.Fatal(err)
		}
		if err := d2.Attach(1, 200); err != nil {
			t.Fatal(err)
		}
		sock := func() (*net.UDPConn, netip.AddrPort) {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
		}
		a, aAddr := sock()
		x, xAddr := sock()
		y, yAddr := sock()
		s1, err := d1.Add(Stream{Mode: Protect, Peer: aAddr, Local: xAddr, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt, TagLen: 10})
		if err != nil {
			t.Fatal(err)
		}
		s2, err := d2.Add(Stream{Mode: Protect, Peer: aAddr, Local: yAddr, SSRC: 0x11223344, MasterKey: mkey, MasterSalt: msalt, TagLen: 4})
		if err != nil {
			t.Fatal(err)
		}
		plain := rtpPacket(t, 0x11223344, 9, 160)
		for _, to := range []struct {
			c    *net.UDPConn
			addr netip.AddrPort
			tag  int
		}{{x, xAddr, 10}, {y, yAddr, 4}} {
			if _, err := a.WriteToUDPAddrPort(plain, to.addr); err != nil {
				t.Fatal(err)
			}
			_ = to.c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 512)
			n, _, err := to.c.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(plain)+to.tag {
				t.Fatalf("to %s: %d bytes, want %d (protected with a %d-byte tag)", to.addr, n, len(plain)+to.tag, to.tag)
			}
		}
		if c1, c2 := d1.Counters(s1), d2.Counters(s2); c1.Packets != 1 || c2.Packets != 1 {
			t.Fatalf("counters %+v %+v", c1, c2)
		}
	})
}
