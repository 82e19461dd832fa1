package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// sipPeer is a small SIP endpoint over UDP for registration tests: it
// answers OPTIONS keep-alives itself (and counts them and CRLF pings),
// passes everything else to handle or, without a handler, to a queue the
// test reads.
type sipPeer struct {
	t      testing.TB
	name   string
	conn   *net.UDPConn
	msgs   chan peerMsg
	handle func(p *sipPeer, m sip.Message, from *net.UDPAddr)

	options atomic.Int64
	crlf    atomic.Int64
	done    chan struct{}
}

type peerMsg struct {
	m    sip.Message
	from *net.UDPAddr
}

// newSIPPeer listens on addr (ip:port) until the test ends.
func newSIPPeer(t testing.TB, name, addr string, handle func(p *sipPeer, m sip.Message, from *net.UDPAddr)) *sipPeer {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &sipPeer{t: t, name: name, conn: c, msgs: make(chan peerMsg, 256), handle: handle, done: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	return p
}

func (p *sipPeer) close() {
	_ = p.conn.Close()
	<-p.done
}

func (p *sipPeer) addr() string { return p.conn.LocalAddr().String() }

func (p *sipPeer) read() {
	defer close(p.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if strings.TrimSpace(string(buf[:n])) == "" {
			p.crlf.Add(1)
			continue
		}
		m, err := sip.NewParser().ParseSIP(append([]byte(nil), buf[:n]...))
		if err != nil {
			p.t.Errorf("%s: unparsable message from %s: %v", p.name, from, err)
			continue
		}
		if req, ok := m.(*sip.Request); ok && req.Method == sip.OPTIONS {
			p.options.Add(1)
			p.reply(req, from, 200, "", "")
			continue
		}
		if r, ok := m.(*sip.Response); ok && r.StatusCode == 100 {
			continue
		}
		if p.handle != nil {
			p.handle(p, m, from)
			continue
		}
		select {
		case p.msgs <- peerMsg{m: m, from: from}:
		default:
			p.t.Errorf("%s: queue full", p.name)
		}
	}
}

// send writes a message (LF line ends become CRLF) to addr.
func (p *sipPeer) send(to, msg string) {
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	ua, err := net.ResolveUDPAddr("udp", to)
	if err == nil {
		_, err = p.conn.WriteToUDP([]byte(msg), ua)
	}
	if err != nil {
		p.t.Errorf("%s: send to %s: %v", p.name, to, err)
	}
}

// reply answers req to where it came from; extra holds header lines
// (LF-terminated), body an SDP.
func (p *sipPeer) reply(req *sip.Request, to *net.UDPAddr, code int, extra, body string) {
	var b strings.Builder
	reason := map[int]string{200: "OK", 401: "Unauthorized", 405: "Method Not Allowed", 503: "Service Unavailable", 403: "Forbidden"}[code]
	if reason == "" {
		reason = "Status"
	}
	fmt.Fprintf(&b, "SIP/2.0 %d %s\n", code, reason)
	for _, h := range req.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\n", h.Value())
	}
	toHdr := req.To().Value()
	if _, ok := req.To().Params.Get("tag"); !ok && code > 100 {
		toHdr += ";tag=" + p.name + "tag"
	}
	fmt.Fprintf(&b, "From: %s\nTo: %s\nCall-ID: %s\nCSeq: %s\n", req.From().Value(), toHdr, req.CallID().Value(), req.CSeq().Value())
	b.WriteString(extra)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(strings.ReplaceAll(body, "\n", "\r\n")), body)
	p.send(to.String(), b.String())
}

// next waits for the next queued message matching match (others are dropped).
func (p *sipPeer) next(what string, timeout time.Duration, match func(sip.Message) bool) peerMsg {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-p.msgs:
			if match(m.m) {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s: no %s within %v", p.name, what, timeout)
		}
	}
}

func (p *sipPeer) request(method sip.RequestMethod, timeout time.Duration) (*sip.Request, *net.UDPAddr) {
	p.t.Helper()
	m := p.next(string(method), timeout, func(m sip.Message) bool {
		r, ok := m.(*sip.Request)
		return ok && r.Method == method
	})
	return m.m.(*sip.Request), m.from
}

func (p *sipPeer) response(cseqMethod sip.RequestMethod, timeout time.Duration) *sip.Response {
	p.t.Helper()
	m := p.next("response to "+string(cseqMethod), timeout, func(m sip.Message) bool {
		r, ok := m.(*sip.Response)
		return ok && r.CSeq().MethodName == cseqMethod
	})
	return m.m.(*sip.Response)
}

// phone is a user agent behind "NAT": it registers with a Contact that is
// not its real address.
type phone struct {
	*sipPeer
	user, contact, callID, registrar string
	// domain is the host of the address of record and Request-URI
	// (default: the registrar's IP).
	domain string
	cseq   int
}

func newPhone(t testing.TB, user, addr, registrar string) *phone {
	return &phone{sipPeer: newSIPPeer(t, user, addr, nil), user: user, registrar: registrar,
		contact: "sip:" + user + "@192.168.77.20:5062", callID: "reg-" + user + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

func (ph *phone) domainHost() string {
	if ph.domain != "" {
		return ph.domain
	}
	host, _, _ := net.SplitHostPort(ph.registrar)
	return host
}

// register sends a REGISTER (Expires: expires) with optional extra header
// lines and returns the final response.
func (ph *phone) register(expires int, extra string) *sip.Response {
	ph.t.Helper()
	ph.cseq++
	host := ph.domainHost()
	ph.send(ph.registrar, fmt.Sprintf(`
REGISTER sip:%s SIP/2.0
Via: SIP/2.0/UDP 192.168.77.20:5062;branch=z9hG4bK-%s-%d-%d;rport
From: <sip:%s@%s>;tag=ph%d
To: <sip:%s@%s>
Call-ID: %s
CSeq: %d REGISTER
Contact: <%s>
Expires: %d
Max-Forwards: 70
%sContent-Length: 0

`, host, ph.user, ph.cseq, time.Now().UnixNano(), ph.user, host, ph.cseq, ph.user, host, ph.callID, ph.cseq, ph.contact, expires, extra))
	return ph.response(sip.REGISTER, 15*time.Second)
}

// registerAuth registers, answering one digest challenge with password.
func (ph *phone) registerAuth(expires int, password string) *sip.Response {
	ph.t.Helper()
	res := ph.register(expires, "")
	if res.StatusCode != 401 {
		return res
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		ph.t.Fatal("401 without WWW-Authenticate")
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		ph.t.Fatal(err)
	}
	host := ph.domainHost()
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + host, Username: ph.user, Password: password, Count: 1})
	if err != nil {
		ph.t.Fatal(err)
	}
	return ph.register(expires, "Authorization: "+cred.String()+"\n")
}

// answerCall takes an INVITE, answers it with an SDP on mediaIP:port,
// waits for ACK and then for BYE, which it answers. It returns the INVITE.
func (ph *phone) answerCall(mediaIP string, port int, hold time.Duration) *sip.Request {
	ph.t.Helper()
	inv, from := ph.request(sip.INVITE, 10*time.Second)
	sdp := fmt.Sprintf("v=0\no=phone 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n", mediaIP, mediaIP, port)
	ph.reply(inv, from, 200, "Contact: <"+ph.contact+">\n", sdp)
	ph.request(sip.ACK, 5*time.Second)
	bye, bfrom := ph.request(sip.BYE, hold+15*time.Second)
	ph.reply(bye, bfrom, 200, "", "")
	return inv
}

// registrar is a Go registrar with digest authentication (MD5; none
// without a password): it counts
// the REGISTERs it receives, remembers the last, and answers per its
// current mode.
type registrar struct {
	*sipPeer
	realm, password string
	// grant is the expiry written into 200s (seconds); 0: what was asked.
	grant atomic.Int64
	// refuse, when non-zero, is the status every REGISTER gets.
	refuse atomic.Int64

	mu       sync.Mutex
	received []*sip.Request
	at       []time.Time
	accepted []*sip.Request
}

func newRegistrar(t testing.TB, addr, realm, password string) *registrar {
	r := &registrar{realm: realm, password: password}
	r.sipPeer = newSIPPeer(t, "registrar", addr, r.serve)
	return r
}

func (r *registrar) serve(p *sipPeer, m sip.Message, from *net.UDPAddr) {
	req, ok := m.(*sip.Request)
	if !ok {
		return
	}
	if req.Method != sip.REGISTER {
		p.reply(req, from, 405, "", "")
		return
	}
	r.mu.Lock()
	r.received = append(r.received, req)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	if code := r.refuse.Load(); code != 0 {
		p.reply(req, from, int(code), "", "")
		return
	}
	if r.password != "" && !r.authorized(req) {
		p.reply(req, from, 401, fmt.Sprintf("WWW-Authenticate: Digest realm=\"%s\", nonce=\"%x\", algorithm=MD5, qop=\"auth\"\n", r.realm, time.Now().UnixNano()), "")
		return
	}
	r.mu.Lock()
	r.accepted = append(r.accepted, req)
	r.mu.Unlock()
	exp := req.GetHeader("Expires").Value()
	if g := r.grant.Load(); g > 0 && exp != "0" {
		exp = strconv.FormatInt(g, 10)
	}
	extra := ""
	if exp != "0" {
		extra = "Contact: " + req.Contact().Value() + ";expires=" + exp + "\n"
	}
	p.reply(req, from, 200, extra, "")
}

// authorized checks the request's digest response with the password.
func (r *registrar) authorized(req *sip.Request) bool {
	h := req.GetHeader("Authorization")
	if h == nil {
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Realm != r.realm {
		return false
	}
	ha1 := md5.Sum([]byte(cred.Username + ":" + r.realm + ":" + r.password))
	ha2 := md5.Sum([]byte("REGISTER:" + cred.URI))
	want := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + cred.Nonce + ":" + fmt.Sprintf("%08x", cred.Nc) + ":" + cred.Cnonce + ":" + cred.QOP + ":" + hex.EncodeToString(ha2[:])))
	return cred.Response == hex.EncodeToString(want[:])
}

func (r *registrar) counts() (received, accepted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received), len(r.accepted)
}

func (r *registrar) last() *sip.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.received) == 0 {
		return nil
	}
	return r.received[len(r.received)-1]
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// arrivals returns when each REGISTER arrived.
func (r *registrar) arrivals() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}
