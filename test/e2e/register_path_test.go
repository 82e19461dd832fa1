package e2e

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// pathRegistrar is a core registrar that supports Path (RFC 3327): it
// stores each user's Contacts with the Path it was given and echoes it
// in the 200; users in noPath get 420 with Unsupported: path instead.
type pathRegistrar struct {
	*sipPeer
	noPath map[string]bool

	mu       sync.Mutex
	received []*sip.Request
	path     map[string]string // user -> Path value
	contacts map[string][]string
}

func newPathRegistrar(t testing.TB, addr string, noPath ...string) *pathRegistrar {
	r := &pathRegistrar{noPath: map[string]bool{}, path: map[string]string{}, contacts: map[string][]string{}}
	for _, u := range noPath {
		r.noPath[u] = true
	}
	r.sipPeer = newSIPPeer(t, "core", addr, r.serve)
	return r
}

func (r *pathRegistrar) serve(p *sipPeer, m sip.Message, from *net.UDPAddr) {
	req, ok := m.(*sip.Request)
	if !ok || req.Method != sip.REGISTER {
		// Responses and requests of the core's own calls go to the test.
		select {
		case p.msgs <- peerMsg{m: m, from: from}:
		default:
		}
		return
	}
	user := req.To().Address.User
	r.mu.Lock()
	r.received = append(r.received, req)
	r.mu.Unlock()
	path := req.GetHeader("Path")
	if path != nil && r.noPath[user] {
		p.reply(req, from, 420, "Unsupported: path\n", "")
		return
	}
	extra := ""
	exp := req.GetHeader("Expires").Value()
	r.mu.Lock()
	if exp == "0" {
		delete(r.contacts, user)
		delete(r.path, user)
	} else {
		r.contacts[user] = nil
		for _, h := range req.GetHeaders("Contact") {
			r.contacts[user] = append(r.contacts[user], h.Value())
			extra += "Contact: " + h.Value() + ";expires=" + exp + "\n"
		}
		if path != nil {
			r.path[user] = path.Value()
			extra += "Path: " + path.Value() + "\n"
		}
	}
	r.mu.Unlock()
	p.reply(req, from, 200, extra, "")
}

func (r *pathRegistrar) last() *sip.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.received[len(r.received)-1]
}

func (r *pathRegistrar) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

// TestRegisterForwardPath: with forward_mode: path sbcd registers the
// phone's own Contact upstream with its Path and Supported: path; the core
// calls the user along that Path (Route: sbcd's Path URI, Request-URI the
// phone's Contact), with no route for it in the policy, and sbcd relays
// the call to the phone's NAT source address. A registrar that refuses
// Path gets contact rewriting; the user leaving is un-registered with *.
func TestRegisterForwardPath(t *testing.T) {
	t.Parallel()
	const net = 95
	topo := Topology{Net: net}
	core := newPathRegistrar(t, topo.Gateway(1), "bob")
	e := newEnv(t, net, func(c *policy.Config) {
		c.Trunks = append(c.Trunks, policy.TrunkConfig{Name: "registrar", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}}})
		c.Realms[0].Registrar = true
		c.Realms[0].Registration = policy.RegistrationConfig{Forward: "registrar", ForwardMode: "path", KeepAlive: -time.Second}
	})
	ph := newPhone(t, "alice", fmt.Sprintf("%s:%d", topo.CallerIP(0), CallerPort), topo.AccessSIP())
	ph.domain = "core.example"
	if res := ph.register(3600, ""); res.StatusCode != 200 {
		t.Fatalf("REGISTER through sbcd: %d", res.StatusCode)
	}
	up := core.last()
	if ct := up.Contact(); ct == nil || ct.Address.String() != "sip:alice@192.168.77.20:5062" {
		t.Errorf("upstream Contact %v, want the phone's own sip:alice@192.168.77.20:5062", up.Contact())
	}
	if !hasOptionTag(up, "Supported", "path") {
		t.Errorf("upstream REGISTER without Supported: path:\n%s", up)
	}
	ph1 := up.GetHeader("Path")
	if ph1 == nil {
		t.Fatalf("upstream REGISTER without Path:\n%s", up)
	}
	var pathURI sip.Uri
	if err := sip.ParseUri(strings.Trim(ph1.Value(), "<>"), &pathURI); err != nil {
		t.Fatalf("Path %q: %v", ph1.Value(), err)
	}
	if pathURI.Host != topo.CoreIP() || pathURI.Port != CoreSIPPort || !pathURI.UriParams.Has("lr") || pathURI.User == "" || pathURI.User == "alice" {
		t.Errorf("Path %s, want sip:<token>@%s;lr", ph1.Value(), topo.CoreSIP())
	}
	for _, leak := range topo.AccessIdentifiers(1) {
		if strings.Contains(up.String(), leak) {
			t.Errorf("upstream REGISTER leaks %s:\n%s", leak, up)
		}
	}

	// The core calls alice along the Path. No route in the policy matches
	// calls from the core: the Path alone takes it to the phone.
	go func() {
		sdp := fmt.Sprintf("v=0\no=core 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n",
			topo.GatewayIP(1), topo.GatewayIP(1), CalleeMediaPort)
		core.send(topo.CoreSIP(), fmt.Sprintf(`
INVITE sip:alice@192.168.77.20:5062 SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-path-inv;rport
Route: %s
Max-Forwards: 70
From: <sip:carol@core.example>;tag=core1
To: <sip:alice@core.example>
Call-ID: path-call-%d
CSeq: 1 INVITE
Contact: <sip:carol@%s>
Content-Type: application/sdp
Content-Length: %d

%s`, topo.Gateway(1), ph1.Value(), time.Now().UnixNano(), topo.Gateway(1), len(strings.ReplaceAll(sdp, "\n", "\r\n")), sdp))
	}()
	inv, from := ph.request(sip.INVITE, 10*time.Second)
	// The phone listens on its NAT source address only: the INVITE got
	// there, from sbcd's access listener.
	if from.String() != topo.AccessSIP() {
		t.Errorf("INVITE reached the phone from %s, want sbcd's %s", from, topo.AccessSIP())
	}
	if inv.Recipient.String() != "sip:alice@192.168.77.20:5062" {
		t.Errorf("INVITE Request-URI %s, want the phone's Contact", inv.Recipient.String())
	}
	if h := inv.GetHeader("Route"); h != nil {
		t.Errorf("Route reached the phone: %s", h.Value())
	}
	if strings.Contains(inv.String(), pathURI.User) {
		t.Errorf("the Path token reached the phone:\n%s", inv)
	}
	sdp := fmt.Sprintf("v=0\no=phone 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 8\na=rtpmap:8 PCMA/8000\n",
		topo.CallerIP(0), topo.CallerIP(0), CallerMediaPort)
	ph.reply(inv, from, 200, "Contact: <"+ph.contact+">\n", sdp)
	ok := core.next("200 for the INVITE", 10*time.Second, func(m sip.Message) bool {
		r, ok := m.(*sip.Response)
		return ok && r.CSeq().MethodName == sip.INVITE && r.StatusCode == 200
	}).m.(*sip.Response)
	toTag, _ := ok.To().Params.Get("tag")
	dialog := func(method string, cseq int) string {
		return fmt.Sprintf(`
%s %s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-path-%s;rport
Max-Forwards: 70
From: <sip:carol@core.example>;tag=core1
To: <sip:alice@core.example>;tag=%s
Call-ID: %s
CSeq: %d %s
Content-Length: 0

`, method, ok.Contact().Address.String(), topo.Gateway(1), strings.ToLower(method), toTag, ok.CallID().Value(), cseq, method)
	}
	core.send(topo.CoreSIP(), dialog("ACK", 1))
	ph.request(sip.ACK, 5*time.Second)
	core.send(topo.CoreSIP(), dialog("BYE", 2))
	bye, bfrom := ph.request(sip.BYE, 5*time.Second)
	ph.reply(bye, bfrom, 200, "", "")
	core.next("200 for the BYE", 5*time.Second, func(m sip.Message) bool {
		r, ok := m.(*sip.Response)
		return ok && r.CSeq().MethodName == sip.BYE && r.StatusCode == 200
	})
	if l, err := e.sbcd.WaitMsg("call ended", 3*time.Second); err != nil || l.Str("route") != "path" {
		t.Errorf("call ended with route %q (%v), want path", l.Str("route"), err)
	}

	// A registrar that refuses Path (420) gets contact rewriting.
	bob := newPhone(t, "bob", fmt.Sprintf("%s:%d", topo.CallerIP(1), CallerPort), topo.AccessSIP())
	bob.domain = "core.example"
	n := core.count()
	if res := bob.register(3600, ""); res.StatusCode != 200 {
		t.Fatalf("bob's REGISTER with a registrar refusing Path: %d", res.StatusCode)
	}
	if got := core.count() - n; got != 2 {
		t.Errorf("registrar saw %d REGISTERs for bob, want 2 (with Path, refused; then without)", got)
	}
	if up := core.last(); up.GetHeader("Path") != nil || up.Contact() == nil || up.Contact().Address.Host != topo.CoreIP() {
		t.Errorf("after 420: REGISTER %v with Path %v, want sbcd's own Contact and no Path", up.Contact(), up.GetHeader("Path"))
	}

	// Alice leaves: Contact: * with Expires: 0 and the Path.
	if res := ph.register(0, ""); res.StatusCode != 200 {
		t.Fatalf("un-REGISTER: %d", res.StatusCode)
	}
	up = core.last()
	if ct := up.Contact(); up.To().Address.User != "alice" || ct == nil || !ct.Address.Wildcard || up.GetHeader("Expires").Value() != "0" || up.GetHeader("Path") == nil {
		t.Errorf("un-REGISTER upstream:\n%s\nwant Contact: *, Expires: 0 and Path", up)
	}
	core.mu.Lock()
	left := len(core.contacts["alice"])
	core.mu.Unlock()
	if left != 0 {
		t.Errorf("the registrar still holds %d contacts for alice", left)
	}
}

// hasOptionTag reports whether a header lists an option tag.
func hasOptionTag(m sip.Message, header, tag string) bool {
	for _, h := range m.GetHeaders(header) {
		for _, v := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(v), tag) {
				return true
			}
		}
	}
	return false
}
