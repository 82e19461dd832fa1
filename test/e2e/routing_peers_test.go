package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// newGoEnv starts sbcd on net with the topology's config changed by
// mutate; its peers are the Go gateways and callers below (no sipp).
func newGoEnv(t *testing.T, net int, mutate func(*policy.Config)) *env {
	t.Helper()
	bin := needSbcd(t)
	e := &env{t: t, topo: Topology{Net: net}, dir: t.TempDir()}
	e.cfg = e.topo.Config()
	if mutate != nil {
		mutate(e.cfg)
	}
	e.cfgPath = filepath.Join(e.dir, "sbcd.yaml")
	if err := WriteConfig(e.cfgPath, e.cfg); err != nil {
		t.Fatal(err)
	}
	e.sbcd = StartSbcd(t, bin, e.cfgPath)
	return e
}

// sipText renders a message with CRLF line ends and its Content-Length.
func sipText(head, body string) []byte {
	head = strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n")
	body = strings.ReplaceAll(body, "\n", "\r\n")
	return []byte(fmt.Sprintf("%sContent-Length: %d\r\n\r\n%s", head, len(body), body))
}

// replyTo builds a UAS response to req.
func replyTo(req *sip.Request, code int, toTag, contact, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\n", code, map[int]string{200: "OK", 503: "Service Unavailable", 180: "Ringing"}[code])
	for _, h := range req.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\n", h.Value())
	}
	fmt.Fprintf(&b, "From: %s\n", req.From().Value())
	to := req.To().Value()
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "To: %s\nCall-ID: %s\nCSeq: %s\n", to, req.CallID().Value(), req.CSeq().Value())
	if contact != "" {
		fmt.Fprintf(&b, "Contact: <%s>\n", contact)
	}
	if req.Method == sip.OPTIONS {
		b.WriteString("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\n")
	}
	return sipText(b.String(), body)
}

// goGateway is a SIP gateway on UDP: it answers OPTIONS (unless told to
// stay silent), answers INVITEs with inviteCode (0: no answer at all) and
// may send RTP with a share of the packets missing, to look lossy.
type goGateway struct {
	t     *testing.T
	conn  *net.UDPConn
	media *net.UDPConn
	ip    string

	answerOptions atomic.Bool
	inviteCode    atomic.Int32
	// rtpKeepEvery makes answered calls send RTP, keeping only every n-th
	// packet (0: no RTP, 1: every packet, 3: two thirds lost).
	rtpKeepEvery atomic.Int32

	mu       sync.Mutex
	invites  map[string]bool // Call-IDs
	users    []string        // R-URI users of the INVITEs, in arrival order
	options  int
	answered map[string][]byte

	stop chan struct{}
	wg   sync.WaitGroup
}

func startGoGateway(t *testing.T, ip string, port int) *goGateway {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	m, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	g := &goGateway{t: t, conn: c, media: m, ip: ip, invites: map[string]bool{}, answered: map[string][]byte{}, stop: make(chan struct{})}
	g.answerOptions.Store(true)
	g.inviteCode.Store(200)
	g.wg.Go(g.serve)
	t.Cleanup(g.close)
	return g
}

func (g *goGateway) close() {
	select {
	case <-g.stop:
		return
	default:
	}
	close(g.stop)
	g.conn.Close()
	g.media.Close()
	g.wg.Wait()
}

func (g *goGateway) counts() (invites, options int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.invites), g.options
}

// calledUsers returns the R-URI users of the INVITEs received so far.
func (g *goGateway) calledUsers() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.users...)
}

func (g *goGateway) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := g.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := sip.NewParser().ParseSIP(bytes.Clone(buf[:n]))
		if err != nil {
			continue
		}
		req, ok := m.(*sip.Request)
		if !ok {
			continue
		}
		g.handle(req, from)
	}
}

func (g *goGateway) handle(req *sip.Request, from *net.UDPAddr) {
	send := func(b []byte) { _, _ = g.conn.WriteToUDP(b, from) }
	contact := fmt.Sprintf("sip:gw@%s", g.conn.LocalAddr())
	cid := req.CallID().Value()
	switch req.Method {
	case sip.OPTIONS:
		g.mu.Lock()
		g.options++
		g.mu.Unlock()
		if g.answerOptions.Load() {
			send(replyTo(req, 200, "gwopt", "", ""))
		}
	case sip.INVITE:
		g.mu.Lock()
		first := !g.invites[cid]
		g.invites[cid] = true
		if first {
			g.users = append(g.users, req.Recipient.User)
		}
		prev := g.answered[cid]
		g.mu.Unlock()
		if prev != nil {
			send(prev) // a retransmission
			return
		}
		code := int(g.inviteCode.Load())
		if code == 0 {
			return
		}
		body := ""
		if code == 200 {
			port := g.media.LocalAddr().(*net.UDPAddr).Port
			body = fmt.Sprintf("v=0\no=gw 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 0\na=rtpmap:0 PCMU/8000\n", g.ip, g.ip, port)
		}
		res := replyTo(req, code, "gw"+sip.GenerateTagN(6), contact, body)
		g.mu.Lock()
		g.answered[cid] = res
		g.mu.Unlock()
		send(res)
		if keep := int(g.rtpKeepEvery.Load()); code == 200 && first && keep > 0 {
			if addr, port, err := SDPConnection(string(req.Body())); err == nil {
				g.wg.Go(func() { g.sendRTP(fmt.Sprintf("%s:%d", addr, port), keep) })
			}
		}
	case sip.BYE, sip.CANCEL:
		send(replyTo(req, 200, "", "", ""))
	}
}

// sendRTP sends one second of 20 ms PCMU packets, of which only every
// keep-th leaves (the others are "lost": their sequence numbers are skipped).
func (g *goGateway) sendRTP(to string, keep int) {
	ua, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		return
	}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 0
	binary.BigEndian.PutUint32(pkt[8:], 0x1234abcd)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range 50 {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		if i%keep != 0 {
			continue // lost on the way
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(1000+i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(160*i))
		_, _ = g.media.WriteToUDP(pkt, ua)
	}
}

// goCaller places calls into the access realm from its own UDP socket.
// goCaller places the routing tests' calls: a GoCaller on an ephemeral
// port of ip, calling through sbc.
type goCaller struct {
	t   *testing.T
	c   *GoCaller
	ip  string
	sbc string
}

func newGoCaller(t *testing.T, ip, sbc string) *goCaller {
	t.Helper()
	c, err := NewGoCaller(ip, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &goCaller{t: t, c: c, ip: ip, sbc: sbc}
}

// callResult is the caller's view of one call.
type callResult struct {
	Code   int
	Reason string // the Reason header of the final response
	Took   time.Duration
}

// call places one call to user, holds it for hold when answered, and hangs
// up; it returns the final response's status, Reason and setup time.
func (c *goCaller) call(user string, hold time.Duration) callResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	sdp := fmt.Sprintf("v=0\r\no=caller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", c.ip, c.ip, CallerMediaPort)
	start := time.Now()
	res, err := c.c.Invite(ctx, user, c.sbc, []byte(sdp))
	out := callResult{Took: time.Since(start)}
	if err != nil {
		c.t.Errorf("call to %s: no final response: %v", user, err)
		return out
	}
	out.Code, out.Reason = res.Status(), res.Header("Reason")
	if out.Code >= 300 {
		return out
	}
	time.Sleep(hold)
	if err := c.c.Hangup(ctx); err != nil {
		c.t.Errorf("call to %s: BYE: %v", user, err)
	}
	return out
}

// adminJSON calls the admin API with a token and decodes the reply into v.
func adminJSON(t *testing.T, method, url, token string, body any, v any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if v != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, raw)
		}
	}
	return res.StatusCode
}

// options sends OPTIONS to sbcd itself and returns its answer.
func (c *goCaller) options() (Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.c.Options(ctx, c.sbc)
}
