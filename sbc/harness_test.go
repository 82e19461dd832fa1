package sbc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// fakeMedia answers every anchoring request with a fixed SDP on the target
// side's address and records what it was asked.
type fakeMedia struct {
	mu      sync.Mutex
	ops     []string
	deleted map[string]bool
	fail    error
}

func (f *fakeMedia) sdp(realm string) []byte {
	ip := map[string]string{"access": "127.0.3.1", "core": "127.0.4.1"}[realm]
	return []byte("v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func (f *fakeMedia) record(op string) {
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.mu.Unlock()
}

func (f *fakeMedia) Offer(_ context.Context, call string, from Side, sdp []byte, p MediaProfile) ([]byte, error) {
	f.record("offer-" + from.String())
	if f.fail != nil {
		return nil, f.fail
	}
	return f.sdp(p.Realm[from.Other()]), nil
}

func (f *fakeMedia) Answer(_ context.Context, call string, from Side, sdp []byte, p MediaProfile) ([]byte, error) {
	f.record("answer-" + from.String())
	return f.sdp(p.Realm[from.Other()]), nil
}

func (f *fakeMedia) Serve(_ context.Context, call, service string, sdp []byte, realm string) ([]byte, error) {
	f.record("serve-" + service)
	return f.sdp(realm), nil
}

func (f *fakeMedia) Delete(call string) MediaStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted == nil {
		f.deleted = map[string]bool{}
	}
	f.deleted[call] = true
	return MediaStats{}
}

func (f *fakeMedia) opsSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

const testPolicy = `
sip:
  invite_timeout: 2s
realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.3.1:%d"}]
    registrar: true
    media: {address: 127.0.3.1, port_min: 40000, port_max: 40999}
  - name: core
    listeners: [{transport: udp, address: "127.0.4.1:%d"}]
    refer: transfer
    media: {address: 127.0.4.1, port_min: 41000, port_max: 41999}
trunks:
  - name: pbx
    realm: core
    gateways:
      - {address: "127.0.4.10:%d"}
routes:
  - name: echo
    match: {source_realm: access, ruri_user: {exact: echo}}
    service: echo
  - name: out
    match: {source_realm: access}
    trunks: [pbx]
  - name: nowhere
    match: {source_realm: core, ruri_user: {exact: "404"}}
    reject: {code: 404}
  - name: back
    match: {source_realm: core}
    trunks: [pbx]
`

// testBed is a B2BUA between a caller and a callee, both raw UDP peers.
type testBed struct {
	b       *B2BUA
	media   *fakeMedia
	obs     *recObserver
	caller  *peer
	callee  *peer
	sbcA    string // access listener
	sbcB    string // core listener
	cancelT func()
}

func newTestBed(t *testing.T) *testBed {
	t.Helper()
	return newTestBedWith(t, "")
}

// newTestBedWith is newTestBed with YAML appended to the access realm.
func newTestBedWith(t *testing.T, accessYAML string) *testBed {
	t.Helper()
	caller := newPeer(t, "127.0.3.10")
	callee := newPeer(t, "127.0.4.10")
	pa, pb := freePort(t, "127.0.3.1"), freePort(t, "127.0.4.1")
	doc := fmt.Sprintf(testPolicy, pa, pb, callee.port())
	if accessYAML != "" {
		doc = strings.Replace(doc, "    registrar: true\n", "    registrar: true\n"+accessYAML, 1)
	}
	pol, err := policy.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	fm := &fakeMedia{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	obs := &recObserver{}
	b, err := New(Config{Policy: pol, Media: fm, Logger: log, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	tb := &testBed{b: b, media: fm, obs: obs, caller: caller, callee: callee,
		sbcA: fmt.Sprintf("127.0.3.1:%d", pa), sbcB: fmt.Sprintf("127.0.4.1:%d", pb)}
	t.Cleanup(b.Close)
	return tb
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// peer is a raw SIP endpoint on a UDP socket: it sends text and parses
// whatever arrives.
type peer struct {
	t    *testing.T
	conn *net.UDPConn
	ip   string
	// raw keeps every datagram received, for leak scans.
	raw [][]byte
}

func newPeer(t *testing.T, ip string) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c, ip: ip}
}

func (p *peer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }
func (p *peer) addr() string {
	return p.conn.LocalAddr().String()
}

func (p *peer) send(to, msg string) {
	p.t.Helper()
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	ua, _ := net.ResolveUDPAddr("udp", to)
	if _, err := p.conn.WriteToUDP([]byte(msg), ua); err != nil {
		p.t.Fatal(err)
	}
}

// recv waits for the next message that is not a 100 Trying.
func (p *peer) recv(timeout time.Duration) sip.Message {
	p.t.Helper()
	for {
		m := p.recvAny(timeout)
		if m == nil {
			return nil
		}
		if r, ok := m.(*sip.Response); ok && r.StatusCode == 100 {
			continue
		}
		return m
	}
}

func (p *peer) recvAny(timeout time.Duration) sip.Message {
	p.t.Helper()
	buf := make([]byte, 65535)
	_ = p.conn.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	p.raw = append(p.raw, bytes.Clone(buf[:n]))
	m, err := sip.NewParser().ParseSIP(buf[:n])
	if err != nil {
		p.t.Fatalf("peer %s got unparsable message: %v\n%s", p.ip, err, buf[:n])
	}
	return m
}

func (p *peer) expectRequest(method string, timeout time.Duration) *sip.Request {
	p.t.Helper()
	m := p.recv(timeout)
	r, ok := m.(*sip.Request)
	if !ok || string(r.Method) != method {
		p.t.Fatalf("peer %s: want %s, got %v", p.ip, method, short(m))
	}
	return r
}

func (p *peer) expectResponse(code int, timeout time.Duration) *sip.Response {
	p.t.Helper()
	m := p.recv(timeout)
	r, ok := m.(*sip.Response)
	if !ok || r.StatusCode != code {
		p.t.Fatalf("peer %s: want %d, got %v", p.ip, code, short(m))
	}
	return r
}

func short(m sip.Message) string {
	switch v := m.(type) {
	case *sip.Request:
		return v.StartLine()
	case *sip.Response:
		return v.StartLine()
	}
	return "nothing"
}

// reply builds a response to req as a UAS would (echoing Via, From, To,
// Call-ID, CSeq, adding a To tag and a Contact).
func reply(req *sip.Request, code int, reason, toTag, contact, extra, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\n", code, reason)
	for _, h := range req.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\n", h.Value())
	}
	fmt.Fprintf(&b, "From: %s\n", req.From().Value())
	to := req.To().Value()
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "To: %s\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\n", req.CallID().Value())
	fmt.Fprintf(&b, "CSeq: %s\n", req.CSeq().Value())
	if contact != "" {
		fmt.Fprintf(&b, "Contact: <%s>\n", contact)
	}
	b.WriteString(extra)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(strings.ReplaceAll(body, "\n", "\r\n")), body)
	return b.String()
}

const callerSDP = "v=0\no=caller 7 7 IN IP4 127.0.3.10\ns=-\nc=IN IP4 127.0.3.10\nt=0 0\nm=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
const calleeSDP = "v=0\no=callee 9 9 IN IP4 127.0.4.10\ns=-\nc=IN IP4 127.0.4.10\nt=0 0\nm=audio 7000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"

// invite is the caller's INVITE.
func (tb *testBed) invite(callID, user string, extra string) string {
	body := callerSDP
	return fmt.Sprintf(`
INVITE sip:%s@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport
Max-Forwards: 70
From: "Alice" <sip:alice@%s>;tag=caller-%s
To: <sip:%s@%s>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@%s>
Record-Route: <sip:proxy.access.example;lr>
User-Agent: AliceSoftphone/1.0
%sContent-Type: application/sdp
Content-Length: %d

%s`, user, tb.sbcA, tb.caller.addr(), callID, tb.caller.addr(), callID, user, tb.sbcA, callID, tb.caller.addr(), extra,
		len(strings.ReplaceAll(body, "\n", "\r\n")), body)
}

// inDialog builds a request from the caller inside an established dialog.
func (tb *testBed) inDialog(method, callID, toTag string, cseq int, body string) string {
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\n"
	}
	return fmt.Sprintf(`
%s sip:sbc@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d-%s;rport
Max-Forwards: 70
From: "Alice" <sip:alice@%s>;tag=caller-%s
To: <sip:1000@%s>;tag=%s
Call-ID: %s
CSeq: %d %s
Contact: <sip:alice@%s>
%sContent-Length: %d

%s`, method, tb.sbcA, tb.caller.addr(), callID, cseq, method, tb.caller.addr(), callID, tb.sbcA, toTag, callID, cseq, method,
		tb.caller.addr(), ct, len(strings.ReplaceAll(body, "\n", "\r\n")), body)
}
