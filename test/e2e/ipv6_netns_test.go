package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/testenv"
)

// netnsLink is one network namespace joined to the root namespace by a
// veth pair: the root end holds Root, the namespace end Peer.
type netnsLink struct {
	NS         string
	Root, Peer string // addresses without prefix length
}

// ip runs ip(8) with args and fails the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newNetns creates namespace ns (ob-rt-*) with a veth pair to the root
// namespace: rootAddr/prefix on the root end, peerAddr/prefix inside. The
// namespace (and with it both veth ends) is deleted when the test ends,
// whatever its outcome. IPv6 addresses skip duplicate address detection
// so they are usable at once.
func newNetns(t *testing.T, ns, rootIf, rootAddr, peerAddr string, prefix int) netnsLink {
	t.Helper()
	if !strings.HasPrefix(ns, "ob-rt-") {
		t.Fatalf("namespace %q: this suite's namespaces are ob-rt-*", ns)
	}
	testenv.RequireTool(t, "ip")
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "network namespaces need root")
		return netnsLink{}
	}
	// A namespace left behind by a killed run goes first.
	_ = exec.Command("ip", "netns", "del", ns).Run()
	_ = exec.Command("ip", "link", "del", rootIf).Run()
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
		_ = exec.Command("ip", "link", "del", rootIf).Run()
	})
	peerIf := rootIf[:len(rootIf)-1] + "1"
	ipCmd(t, "netns", "add", ns)
	ipCmd(t, "link", "add", rootIf, "type", "veth", "peer", "name", peerIf)
	ipCmd(t, "link", "set", peerIf, "netns", ns)
	six := strings.Contains(rootAddr, ":")
	addr := func(a string) []string {
		args := []string{"addr", "add", fmt.Sprintf("%s/%d", a, prefix)}
		if six {
			return append(args, "nodad")
		}
		return args
	}
	ipCmd(t, append(addr(rootAddr), "dev", rootIf)...)
	ipCmd(t, append([]string{"netns", "exec", ns, "ip"}, append(addr(peerAddr), "dev", peerIf)...)...)
	ipCmd(t, "link", "set", rootIf, "up")
	ipCmd(t, "netns", "exec", ns, "ip", "link", "set", peerIf, "up")
	ipCmd(t, "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	return netnsLink{NS: ns, Root: rootAddr, Peer: peerAddr}
}

// in runs f on an OS thread inside the namespace: sockets f opens live
// there (and keep working from any goroutine afterwards).
func (l netnsLink) in(t *testing.T, f func()) {
	t.Helper()
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, e := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if e != nil {
			err = e
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		target, e := os.Open("/var/run/netns/" + l.NS)
		if e != nil {
			err = e
			runtime.UnlockOSThread()
			return
		}
		defer target.Close()
		if e := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); e != nil {
			err = fmt.Errorf("setns %s: %w", l.NS, e)
			runtime.UnlockOSThread()
			return
		}
		f()
		if e := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); e != nil {
			// The thread stays locked and ends with this goroutine.
			err = fmt.Errorf("setns back: %w", e)
			return
		}
		runtime.UnlockOSThread()
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
}

// TestIPv6NetnsAccessToIPv4Core: two hosts in network namespaces, an
// IPv6-only one on the access side (ULA fd00:95:a::/64) and an IPv4-only
// one on the core side. A UDP call from the IPv6 host reaches the IPv4
// trunk with every address rewritten per family (Via, Contact, SDP c=IN
// IP4 / IN IP6) and RTP relayed both ways across the families. A phone of
// the IPv6 host registers over TCP; the core's call for it comes back over
// that IPv6 TCP connection with an IN IP6 offer. The TLS listener serves
// IPv6 too.
func TestIPv6NetnsAccessToIPv4Core(t *testing.T) {
	t.Parallel()
	const net6 = 98
	a := newNetns(t, "ob-rt-98a", "obrt98a0", "fd00:95:a::1", "fd00:95:a::2", 64)
	c := newNetns(t, "ob-rt-98c", "obrt98c0", "10.251.95.1", "10.251.95.2", 30)
	access := fmt.Sprintf("[%s]:5060", a.Root)
	core := fmt.Sprintf("%s:5080", c.Root)
	gw := fmt.Sprintf("%s:5090", c.Peer)

	// The core host: a trunk gateway that answers calls and echoes RTP.
	var calleeMedia *net.UDPConn
	c.in(t, func() {
		var err error
		calleeMedia, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(c.Peer)})
		if err != nil {
			t.Error(err)
		}
	})
	if calleeMedia == nil {
		t.FailNow()
	}
	defer calleeMedia.Close()
	var toCallee atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := calleeMedia.ReadFromUDP(buf)
			if err != nil {
				return
			}
			toCallee.Add(1)
			_, _ = calleeMedia.WriteToUDP(buf[:n], from)
		}
	}()
	cport := calleeMedia.LocalAddr().(*net.UDPAddr).Port
	var mu sync.Mutex
	var coreInvite *sip.Request
	var gwPeer *sipPeer
	c.in(t, func() {
		gwPeer = newSIPPeer(t, "gateway4", gw, func(p *sipPeer, m sip.Message, from *net.UDPAddr) {
			req, ok := m.(*sip.Request)
			switch {
			case ok && req.Method == sip.INVITE:
				mu.Lock()
				coreInvite = req
				mu.Unlock()
				sdp := fmt.Sprintf("v=0\no=gw 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n", c.Peer, c.Peer, cport)
				p.reply(req, from, 200, fmt.Sprintf("Contact: <sip:gw@%s>\n", gw), sdp)
			case ok && req.Method == sip.BYE:
				p.reply(req, from, 200, "", "")
			case ok && req.Method == sip.ACK:
			default:
				p.msgs <- peerMsg{m: m, from: from}
			}
		})
	})

	dir := t.TempDir()
	ca := newTestCA(t)
	srvCert, srvKey := filepath.Join(dir, "sbc.pem"), filepath.Join(dir, "sbc.key")
	ca.issue(t, 100, "sbc-v6", srvCert, srvKey, a.Root)
	accessTLS := fmt.Sprintf("[%s]:5061", a.Root)
	e := newEnv(t, net6, func(cfg *policy.Config) {
		cfg.Realms[0].Listeners = []policy.ListenerConfig{{Transport: "udp", Address: access}, {Transport: "tcp", Address: access},
			{Transport: "tls", Address: accessTLS, CertFile: srvCert, KeyFile: srvKey}}
		cfg.Realms[0].Media.Address = a.Root
		cfg.Realms[0].Registrar = true
		cfg.Realms[0].Registration.KeepAlive = -time.Second
		cfg.Realms[1].Listeners = []policy.ListenerConfig{{Transport: "udp", Address: core}}
		cfg.Realms[1].Media.Address = c.Root
		cfg.Trunks[0].Gateways[0].Address = gw
		cfg.Routes = append(cfg.Routes, policy.RouteConfig{Name: "to-users", Match: policy.MatchConfig{SourceRealm: "core"}, Registered: "access"})
	})

	// The IPv6 host calls over UDP.
	var caller *sipPeer
	var media *net.UDPConn
	a.in(t, func() {
		caller = newSIPPeer(t, "caller6", fmt.Sprintf("[%s]:5062", a.Peer), nil)
		var err error
		media, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.ParseIP(a.Peer)})
		if err != nil {
			t.Error(err)
		}
	})
	if media == nil {
		t.FailNow()
	}
	defer media.Close()
	var echoed atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := media.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n >= 12 && buf[0]>>6 == 2 {
				echoed.Add(1)
			}
		}
	}()
	me := fmt.Sprintf("[%s]:5062", a.Peer)
	callID := fmt.Sprintf("ns6-%d", time.Now().UnixNano())
	sdp := fmt.Sprintf("v=0\no=caller 1 1 IN IP6 %s\ns=-\nc=IN IP6 %s\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n",
		a.Peer, a.Peer, media.LocalAddr().(*net.UDPAddr).Port)
	dialog := func(method, ruri, toTag string, cseq int, extra, body string) string {
		to := "<sip:bob@" + access + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ns6-%s-%d;rport\nFrom: <sip:alice@%s>;tag=ns6\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nContact: <sip:alice@%s>\nMax-Forwards: 70\n%sContent-Length: %d\n\n%s",
			method, ruri, me, strings.ToLower(method), cseq, me, to, callID, cseq, method, me, extra, len(strings.ReplaceAll(body, "\n", "\r\n")), body)
	}
	caller.send(access, dialog("INVITE", "sip:bob@"+access, "", 1, "Content-Type: application/sdp\n", sdp))
	ok := caller.next("200 to INVITE", 10*time.Second, func(m sip.Message) bool {
		r, isRes := m.(*sip.Response)
		return isRes && r.CSeq().MethodName == sip.INVITE && r.StatusCode == 200
	}).m.(*sip.Response)
	maddr, mport, err := SDPConnection(string(ok.Body()))
	if err != nil || maddr != a.Root || !strings.Contains(string(ok.Body()), "c=IN IP6 "+a.Root) {
		t.Fatalf("answer to the IPv6 caller: c=%s port %d (%v), want IN IP6 %s\n%s", maddr, mport, err, a.Root, ok.Body())
	}
	if ct := ok.Contact(); ct == nil || !strings.Contains(ct.Value(), access) {
		t.Errorf("200 Contact %v, want sbcd's %s", ct, access)
	}
	if strings.Contains(ok.String(), "10.251.95.") {
		t.Errorf("the IPv6 side sees IPv4 core addresses:\n%s", ok)
	}
	toTag, _ := ok.To().Params.Get("tag")
	target := ok.Contact().Address.String()
	caller.send(access, dialog("ACK", target, toTag, 1, "", ""))

	// RTP from the IPv6 host through sbcd to the IPv4 host and back.
	dst := &net.UDPAddr{IP: net.ParseIP(a.Root), Port: mport}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 8
	binary.BigEndian.PutUint32(pkt[8:], 0x0600d00d)
	for i := range 50 {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		if _, err := media.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "RTP echoed back across the families", 3*time.Second, func() bool { return echoed.Load() >= 40 })
	if n := toCallee.Load(); n < 40 {
		t.Errorf("the IPv4 host received %d RTP packets, want about 50", n)
	}
	caller.send(access, dialog("BYE", target, toTag, 2, "", ""))
	if res := caller.response(sip.BYE, 5*time.Second); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}

	// The IPv4 host saw IPv4 only: Via, Contact, SDP of the core realm.
	mu.Lock()
	inv := coreInvite
	mu.Unlock()
	if inv == nil {
		t.Fatal("the core gateway got no INVITE")
	}
	if v := inv.Via(); v == nil || v.Host != c.Root {
		t.Errorf("core INVITE Via %v, want %s", inv.Via(), c.Root)
	}
	if ct := inv.Contact(); ct == nil || ct.Address.Host != c.Root {
		t.Errorf("core INVITE Contact %v, want %s", inv.Contact(), c.Root)
	}
	if !strings.Contains(string(inv.Body()), "c=IN IP4 "+c.Root) {
		t.Errorf("core SDP is not c=IN IP4 %s:\n%s", c.Root, inv.Body())
	}
	if strings.Contains(inv.String(), "fd00:95") {
		t.Errorf("core INVITE leaks the IPv6 side:\n%s", inv)
	}
	l, err := e.sbcd.CallEnded(callID, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ain, bin := rtpIn(t, l); ain < 40 || bin < 40 {
		t.Errorf("media across families: a_rtp_in=%d b_rtp_in=%d, want about 50 each", ain, bin)
	}

	// SIP over TCP on IPv6: a phone registers on its own connection and
	// the IPv4 core's call for it comes back on that connection.
	var ph *tcpPhone
	a.in(t, func() { ph = dialTCPPhone(t, fmt.Sprintf("[%s]:0", a.Peer), access) })
	local := ph.conn.LocalAddr().String()
	ph.send(fmt.Sprintf(`
REGISTER sip:%s SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-ns6-reg;rport
From: <sip:carol@%s>;tag=ns6r
To: <sip:carol@%s>
Call-ID: ns6-reg-%d
CSeq: 1 REGISTER
Contact: <sip:carol@%s;transport=tcp>
Expires: 300
Max-Forwards: 70
Content-Length: 0

`, access, local, access, access, time.Now().UnixNano(), local))
	if res, isRes := ph.next("200 to REGISTER", 5*time.Second).(*sip.Response); !isRes || res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP on IPv6: %v", res)
	}
	osdp := fmt.Sprintf("v=0\no=gw 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n", c.Peer, c.Peer, cport)
	gwPeer.send(core, fmt.Sprintf("INVITE sip:carol@%s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ns6-in;rport\nFrom: <sip:pstn@%s>;tag=gw4\nTo: <sip:carol@%s>\nCall-ID: ns6-in-%d\nCSeq: 1 INVITE\nContact: <sip:pstn@%s>\nMax-Forwards: 70\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		core, gw, gw, core, time.Now().UnixNano(), gw, len(strings.ReplaceAll(osdp, "\n", "\r\n")), osdp))
	m := ph.next("INVITE over the IPv6 TCP connection", 5*time.Second)
	in, isReq := m.(*sip.Request)
	if !isReq || in.Method != sip.INVITE {
		t.Fatalf("the phone got %v, want the INVITE", m)
	}
	if v := in.Via(); v == nil || v.Transport != "TCP" || v.Host != a.Root {
		t.Errorf("INVITE to the phone: Via %v, want TCP from %s", in.Via(), a.Root)
	}
	if !strings.Contains(string(in.Body()), "c=IN IP6 "+a.Root) || strings.Contains(in.String(), "10.251.95.") {
		t.Errorf("INVITE to the IPv6 phone:\n%s\nwant c=IN IP6 %s and no IPv4 address", in, a.Root)
	}
	// The phone is busy; the core gets the 486 back.
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 486 Busy Here\n")
	for _, h := range in.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\n", h.Value())
	}
	fmt.Fprintf(&b, "From: %s\nTo: %s;tag=busy6\nCall-ID: %s\nCSeq: %s\nContent-Length: 0\n\n", in.From().Value(), in.To().Value(), in.CallID().Value(), in.CSeq().Value())
	ph.send(b.String())
	res := gwPeer.next("486 back on the IPv4 side", 5*time.Second, func(m sip.Message) bool {
		r, isRes := m.(*sip.Response)
		return isRes && r.CSeq().MethodName == sip.INVITE && r.StatusCode >= 200
	}).m.(*sip.Response)
	if res.StatusCode != 486 {
		t.Errorf("the core got %d, want the phone's 486", res.StatusCode)
	}

	// SIP over TLS on IPv6: the listener's certificate verifies for its
	// IPv6 address and sbcd answers OPTIONS over it.
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	var conn *tls.Conn
	var tlsErr error
	a.in(t, func() {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(a.Peer)}, Timeout: 3 * time.Second}
		conn, tlsErr = tls.DialWithDialer(d, "tcp", accessTLS, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	})
	if tlsErr != nil {
		t.Fatalf("TLS to %s: %v", accessTLS, tlsErr)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	la := conn.LocalAddr().String()
	fmt.Fprintf(conn, "OPTIONS sip:%s;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-ns6-tls;rport\r\n"+
		"From: <sip:probe@%s>;tag=t6\r\nTo: <sip:%s>\r\nCall-ID: ns6-tls-%d\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		accessTLS, la, la, accessTLS, time.Now().UnixNano())
	line, err := bufio.NewReader(conn).ReadString('\n')
	status := strings.TrimSpace(line)
	cert := conn.ConnectionState().PeerCertificates[0]
	tlsErr = err
	if tlsErr != nil || status != "SIP/2.0 200 OK" || cert.Subject.CommonName != "sbc-v6" {
		t.Errorf("OPTIONS over TLS on IPv6: %q %v (certificate %s)", status, tlsErr, cert.Subject.CommonName)
	}
}
