package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/rtpengine/kfwd"
	"github.com/openborder/openborder/rtpengine/ng"
	"github.com/openborder/openborder/test/testenv"
)

// kfNet is this test's loopback network inside its namespace.
const kfNet = 130

// kfPeer is a Go RTP peer inside the test's namespace.
type kfPeer struct {
	conn *net.UDPConn
	addr netip.AddrPort
}

func (p kfPeer) send(t *testing.T, seq uint16, ssrc uint32, to netip.AddrPort) {
	t.Helper()
	b := make([]byte, 172)
	b[0], b[1] = 0x80, 8
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// expect reads the next datagram and checks its sequence number and
// source; seq < 0 expects nothing within 150 ms.
func (p kfPeer) expect(t *testing.T, seq int, from netip.AddrPort) {
	t.Helper()
	wait := time.Second
	if seq < 0 {
		wait = 150 * time.Millisecond
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 2048)
	n, src, err := p.conn.ReadFromUDPAddrPort(b)
	switch {
	case seq < 0 && err == nil:
		t.Fatalf("%s: unexpected packet seq %d from %s", p.addr, binary.BigEndian.Uint16(b[2:]), src)
	case seq < 0:
	case err != nil:
		t.Fatalf("%s: no packet seq %d: %v", p.addr, seq, err)
	case n != 172 || int(binary.BigEndian.Uint16(b[2:])) != seq || src != from:
		t.Fatalf("%s: got seq %d (%d bytes) from %s, want seq %d from %s", p.addr, binary.BigEndian.Uint16(b[2:]), n, src, seq, from)
	}
}

// maybe reads one packet if it comes within a short wait: it may have
// been dropped at a hand-over, but if it arrives it must be seq from from.
func (p kfPeer) maybe(t *testing.T, seq int, from netip.AddrPort) {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 2048)
	n, src, err := p.conn.ReadFromUDPAddrPort(b)
	if err != nil {
		return
	}
	if n != 172 || int(binary.BigEndian.Uint16(b[2:])) != seq || src != from {
		t.Fatalf("%s: got seq %d (%d bytes) from %s, want seq %d from %s", p.addr, binary.BigEndian.Uint16(b[2:]), n, src, seq, from)
	}
}

func kfOffer(ip string, port uint16, dir string) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=%s\r\n", ip, ip, port, dir)
}

// ngSDP runs an offer or answer and returns the media address of the SDP
// sbcd gives back.
func ngSDP(t *testing.T, c *ng.Client, command, from, to, sdp string) netip.AddrPort {
	t.Helper()
	cmd := ng.NewDict(5)
	cmd.Set("command", ng.Str(command))
	cmd.Set("call-id", ng.Str("kf-call"))
	cmd.Set("from-tag", ng.Str(from))
	if to != "" {
		cmd.Set("to-tag", ng.Str(to))
	}
	cmd.Set("sdp", ng.Str(sdp))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := c.Do(ctx, cmd)
	if err != nil {
		t.Fatalf("ng %s: %v", command, err)
	}
	body, _ := res.Get("sdp")
	var ip string
	var port int
	for _, l := range strings.Split(string(body.Str), "\r\n") {
		if v, ok := strings.CutPrefix(l, "c=IN IP4 "); ok {
			ip = v
		}
		if v, ok := strings.CutPrefix(l, "m=audio "); ok {
			port, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	a, err := netip.ParseAddrPort(fmt.Sprintf("%s:%d", ip, port))
	if err != nil {
		t.Fatalf("ng %s: SDP without media address:\n%s", command, body.Str)
	}
	return a
}

// TestKernelForwarding: sbcd with media.relay.kernel_forwarding: on, in a
// network namespace of the test's own (conntrack NAT hooks registered
// there, nothing changed outside). A call set up over the ng socket
// carries RTP both ways; once both peers are latched the kernel forwards
// the stream (conntrack entry present, its counters have the packets,
// every packet arrives at the right peer from the right sbcd port) and
// the query still counts them. A caller moving to a new source port with
// a new SSRC is re-latched per policy and the entry follows it; hold and
// delete remove the entry before they return.
func TestKernelForwarding(t *testing.T) {
	t.Parallel()
	testenv.RequireTool(t, "ip")
	testenv.RequireTool(t, "iptables")
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "kernel forwarding needs root (network namespace, conntrack)")
		return
	}
	ns := netnsLink{NS: "ob-rt-kf130"}
	_ = exec.Command("ip", "netns", "del", ns.NS).Run()
	ipCmd(t, "netns", "add", ns.NS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.NS).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	})
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"iptables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "1", "-j", "ACCEPT"},
		{"iptables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
	} {
		ipCmd(t, append([]string{"netns", "exec", ns.NS}, c...)...)
	}

	sbcIP := fmt.Sprintf("127.%d.0.1", kfNet)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kf.yaml")
	yaml := fmt.Sprintf(`media:
  ng: %[1]s:2223
  relay: {kernel_forwarding: "on"}
admin: {address: "%[1]s:8080"}
realms:
  - name: access
    listeners: [{transport: udp, address: "%[1]s:5060"}]
    media: {address: %[1]s, port_min: 20000, port_max: 20099}
`, sbcIP)
	wrapper := filepath.Join(dir, "sbcd-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", ns.NS, needSbcd(t))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	s := StartSbcd(t, wrapper, cfg)
	if _, err := s.WaitMsg("kernel forwarding on: plain RTP streams are forwarded by conntrack once both peers are latched", time.Second); err != nil {
		t.Fatalf("kernel forwarding not on: %v", err)
	}

	var (
		a, a2, b kfPeer
		ngc      *ng.Client
		ct       *kfwd.Conn
	)
	ns.in(t, func() {
		peer := func(ip string) kfPeer {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return kfPeer{conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
		}
		a, a2, b = peer(fmt.Sprintf("127.%d.1.1", kfNet)), peer(fmt.Sprintf("127.%d.1.1", kfNet)), peer(fmt.Sprintf("127.%d.2.1", kfNet))
		var err error
		if ngc, err = ng.Dial(sbcIP+":2223", ng.ClientConfig{}); err != nil {
			t.Fatal(err)
		}
		if ct, err = kfwd.Open(); err != nil {
			t.Fatal(err)
		}
	})
	defer ngc.Close()
	defer ct.Close()
	// entries lists the kernel's NAT entries toward sbcd's media ports.
	entries := func() []kfwd.Entry {
		all, err := ct.List(unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		var out []kfwd.Entry
		for _, e := range all {
			if e.Status&kfwd.StatusDstNAT != 0 && e.Orig.Dst.Port() >= 20000 && e.Orig.Dst.Port() <= 20099 {
				out = append(out, e)
			}
		}
		return out
	}
	waitEntry := func(src netip.AddrPort) kfwd.Entry {
		t.Helper()
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if en := entries(); len(en) == 1 && en[0].Orig.Src == src {
				return en[0]
			}
		}
		t.Fatalf("no kernel entry from %s: %+v\n%s", src, entries(), s.Dump(40))
		return kfwd.Entry{}
	}

	ip := func(p kfPeer) string { return p.addr.Addr().String() }
	sbcB := ngSDP(t, ngc, "offer", "a", "", kfOffer(ip(a), a.addr.Port(), "sendrecv"))
	sbcA := ngSDP(t, ngc, "answer", "a", "b", kfOffer(ip(b), b.addr.Port(), "sendrecv"))

	// Latch both peers in user space.
	a.send(t, 1, 0xA, sbcA)
	b.expect(t, 1, sbcB)
	b.send(t, 1, 0xB, sbcB)
	a.expect(t, 1, sbcA)
	en := waitEntry(a.addr)
	if en.Orig.Dst != sbcA || en.Reply.Src != b.addr || en.Reply.Dst != sbcB {
		t.Fatalf("entry %+v: want %s->%s / %s->%s", en, a.addr, sbcA, b.addr, sbcB)
	}
	for i := range 50 {
		a.send(t, uint16(2+i), 0xA, sbcA)
		b.expect(t, 2+i, sbcB)
		b.send(t, uint16(2+i), 0xB, sbcB)
		a.expect(t, 2+i, sbcA)
	}
	// The kernel, not sbcd's user-space relay, carried them.
	en, err := ct.Get(en.Orig)
	if err != nil || en.OrigCnt.Packets != 50 || en.ReplyCnt.Packets != 50 {
		t.Fatalf("kernel counters %+v (%v): want 50 each way", en, err)
	}
	metrics := kfMetrics(t, ns, sbcIP+":8080")
	for _, want := range []string{`openborder_media_kernel_forwarding_mode{mode="on"} 1`, "openborder_media_kernel_streams 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The query counts them (from the kernel's counters, read periodically).
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n := ngPackets(t, ngc, "query"); n == 102 {
			break
		} else if time.Now().After(end) {
			t.Fatalf("query counts %d packets, want 102", n)
		}
	}

	// The caller moves: silent for longer than the re-latch rule asks,
	// then a new port and SSRC. Its first packet moves the latch (and is
	// not relayed past the old entry); the entry then follows.
	time.Sleep(2200 * time.Millisecond)
	a2.send(t, 100, 0xA2, sbcA)
	b.expect(t, -1, sbcB)
	waitEntry(a2.addr)
	a2.send(t, 101, 0xA2, sbcA)
	b.expect(t, 101, sbcB)
	b.send(t, 300, 0xB, sbcB)
	a2.expect(t, 300, sbcA)
	a.send(t, 60, 0xA, sbcA) // the old source is refused now
	b.expect(t, -1, sbcB)

	// Hold: the entry is gone when the re-offer returns; user space
	// relays what is still sent.
	ngSDP(t, ngc, "offer", "b", "a", kfOffer(ip(b), b.addr.Port(), "sendonly"))
	if en := entries(); len(en) != 0 {
		t.Fatalf("entries while on hold: %+v", en)
	}
	ngSDP(t, ngc, "answer", "b", "a", kfOffer(ip(a2), a2.addr.Port(), "recvonly"))
	b.send(t, 301, 0xB, sbcB)
	a2.expect(t, 301, sbcA)
	if en := entries(); len(en) != 0 {
		t.Fatalf("entries while on hold: %+v", en)
	}

	// Resume, latch again, offload again; delete removes the entry and
	// its statistics include what the kernel forwarded.
	ngSDP(t, ngc, "offer", "b", "a", kfOffer(ip(b), b.addr.Port(), "sendrecv"))
	ngSDP(t, ngc, "answer", "b", "a", kfOffer(ip(a2), a2.addr.Port(), "sendrecv"))
	// The stream goes back to the kernel at once (both peers still
	// latched) or after a2's next packet. A packet that reaches sbcd
	// while the entry is being made is dropped at the hand-over; it must
	// never leave from another port (conntrack would remap one sent from
	// our ports once the entry exists).
	next, resumed := 102, 0
	for ; ; next++ {
		if next > 130 {
			t.Fatalf("no kernel entry after resume: %+v", entries())
		}
		a2.send(t, uint16(next), 0xA2, sbcA)
		resumed++
		b.maybe(t, next, sbcB)
		if en := entries(); len(en) == 1 && en[0].Orig.Src == a2.addr {
			next++
			break
		}
	}
	for i := range 10 {
		a2.send(t, uint16(next+i), 0xA2, sbcA)
		b.expect(t, next+i, sbcB)
	}
	total := ngPackets(t, ngc, "delete")
	if en := entries(); len(en) != 0 {
		t.Fatalf("entries after delete: %+v", en)
	}
	// a: 51; b: 51 + 1 (to a2) + 1 (on hold); a2: 100 (dropped at the
	// move, counted as received), 101, the resumed ones and 10 more.
	if want := int64(51 + 53 + 2 + resumed + 10); total != want {
		t.Fatalf("delete counts %d packets, want %d", total, want)
	}
}

// ngPackets runs query or delete on the test's call and returns the
// RTP packets its totals count.
func ngPackets(t *testing.T, c *ng.Client, command string) int64 {
	t.Helper()
	cmd := ng.NewDict(2)
	cmd.Set("command", ng.Str(command))
	cmd.Set("call-id", ng.Str("kf-call"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := c.Do(ctx, cmd)
	if err != nil {
		t.Fatalf("ng %s: %v", command, err)
	}
	totals, _ := res.Get("totals")
	rtp, _ := totals.Get("RTP")
	p, _ := rtp.Get("packets")
	return p.Int
}

// kfMetrics fetches sbcd's /metrics from inside the namespace.
func kfMetrics(t *testing.T, ns netnsLink, addr string) string {
	t.Helper()
	var conn net.Conn
	ns.in(t, func() {
		var err error
		if conn, err = net.DialTimeout("tcp", addr, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.0\r\nHost: sbcd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
