package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/testenv"
)

// requireIPv6 skips (fails in CI) where the loopback has no ::1.
func requireIPv6(t *testing.T) {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		testenv.SkipUnlessCI(t, "no IPv6 loopback: %v", err)
		return
	}
	c.Close()
}

// IPv6 test ports on ::1 (shared by every test network): derived from the
// test's net so parallel tests never meet.
func v6Ports(net int) (sip, caller, mediaMin, mediaMax int) {
	return 26000 + 2*net, 26001 + 2*net, 36000 + 100*(net%60), 36000 + 100*(net%60) + 99
}

// TestIPv6AccessToIPv4Trunk: a caller on an IPv6-only access realm calls
// an IPv4-only core trunk. SIP is rewritten per family (Via, Contact,
// Request-URI), SDP says c=IN IP6 on the access side and c=IN IP4 on the
// core side, and RTP is relayed across the families both ways.
func TestIPv6AccessToIPv4Trunk(t *testing.T) {
	t.Parallel()
	requireIPv6(t)
	const net6 = 65
	topo := Topology{Net: net6}
	sipPort, callerPort, mMin, mMax := v6Ports(net6)
	access := fmt.Sprintf("[::1]:%d", sipPort)
	e := newEnv(t, net6, func(c *policy.Config) {
		c.Realms[0].Listeners = []policy.ListenerConfig{{Transport: "udp", Address: access}}
		c.Realms[0].Media = policy.RealmMediaConfig{Address: "::1", PortMin: mMin, PortMax: mMax}
	})
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })

	// The caller's media socket: sends RTP, counts what comes back.
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
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
	mport := media.LocalAddr().(*net.UDPAddr).Port

	caller := newSIPPeer(t, "caller6", fmt.Sprintf("[::1]:%d", callerPort), nil)
	callID := fmt.Sprintf("v6call-%d", time.Now().UnixNano())
	sdp := fmt.Sprintf("v=0\no=caller 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\nm=audio %d RTP/AVP 8 0\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\na=sendrecv\n", mport)
	body := strings.ReplaceAll(sdp, "\n", "\r\n")
	caller.send(access, fmt.Sprintf(`
INVITE sip:bob@%s SIP/2.0
Via: SIP/2.0/UDP [::1]:%d;branch=z9hG4bK-v6-1;rport
From: <sip:alice@[::1]:%d>;tag=v6caller
To: <sip:bob@%s>
Call-ID: %s
CSeq: 1 INVITE
Contact: <sip:alice@[::1]:%d>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: %d

%s`, access, callerPort, callerPort, access, callID, callerPort, len(body), sdp))
	ok := caller.next("200 to INVITE", 10*time.Second, func(m sip.Message) bool {
		r, isRes := m.(*sip.Response)
		return isRes && r.CSeq().MethodName == sip.INVITE && r.StatusCode == 200
	}).m.(*sip.Response)
	addr, port, err := SDPConnection(string(ok.Body()))
	if err != nil || addr != "::1" || port < mMin || port > mMax || !strings.Contains(string(ok.Body()), "c=IN IP6 ::1") {
		t.Fatalf("answer to the IPv6 caller: c=%s port %d (%v), want IN IP6 ::1 in %d-%d\n%s", addr, port, err, mMin, mMax, ok.Body())
	}
	ct := ok.Contact()
	if ct == nil || !strings.Contains(ct.Value(), fmt.Sprintf("[::1]:%d", sipPort)) {
		t.Errorf("200 Contact %v, want sbcd's [::1]:%d", ct, sipPort)
	}
	toTag, _ := ok.To().Params.Get("tag")
	target := ct.Address.String()
	caller.send(access, fmt.Sprintf(`
ACK %s SIP/2.0
Via: SIP/2.0/UDP [::1]:%d;branch=z9hG4bK-v6-2;rport
From: <sip:alice@[::1]:%d>;tag=v6caller
To: <sip:bob@%s>;tag=%s
Call-ID: %s
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

`, target, callerPort, callerPort, access, toTag, callID))

	// 60 packets of PCMA, 20 ms apart, to sbcd's IPv6 media port.
	dst := &net.UDPAddr{IP: net.IPv6loopback, Port: port}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 8
	binary.BigEndian.PutUint32(pkt[8:], 0x6060a0a0)
	for i := range 60 {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		if _, err := media.WriteToUDP(pkt, dst); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "echoed RTP back over IPv6", 3*time.Second, func() bool { return echoed.Load() >= 30 })

	caller.send(access, fmt.Sprintf(`
BYE %s SIP/2.0
Via: SIP/2.0/UDP [::1]:%d;branch=z9hG4bK-v6-3;rport
From: <sip:alice@[::1]:%d>;tag=v6caller
To: <sip:bob@%s>;tag=%s
Call-ID: %s
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

`, target, callerPort, callerPort, access, toTag, callID))
	if res := caller.response(sip.BYE, 5*time.Second); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}
	er := callee.Wait(t)
	wantExit0(t, er)

	// The IPv4 side saw only IPv4: Via, Contact and SDP of the core realm.
	inv := initialInvites(er, false)
	if len(inv) == 0 {
		t.Fatalf("callee got no INVITE\n%s", er.Report())
	}
	checkSDP(t, "INVITE to the IPv4 trunk", inv[0].Body, topo.CoreIP(), CoreMediaMin, CoreMediaMax)
	if !strings.Contains(inv[0].Body, "c=IN IP4 "+topo.CoreIP()) {
		t.Errorf("core SDP is not IN IP4:\n%s", inv[0].Body)
	}
	for _, h := range []string{"Via", "Contact"} {
		if v := inv[0].Header(h); !strings.Contains(v, topo.CoreIP()) || strings.Contains(v, "::1") {
			t.Errorf("core INVITE %s: %s", h, v)
		}
	}
	if strings.Contains(inv[0].Raw, "::1") {
		t.Errorf("core INVITE leaks the IPv6 side:\n%s", inv[0].Raw)
	}
	l, err := e.sbcd.CallEnded(callID, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rtpIn(t, l); a < 50 || b < 30 {
		t.Errorf("media across families: a_rtp_in=%d b_rtp_in=%d, want about 60 each", a, b)
	}
}

// TestIPv4AccessToIPv6Trunk: the other direction, with sipp on both
// sides: an IPv4 caller plays G.711 to a trunk on an IPv6-only core realm
// whose callee (sipp on ::1) echoes it.
func TestIPv4AccessToIPv6Trunk(t *testing.T) {
	t.Parallel()
	requireIPv6(t)
	RequireFile(t, g711aPcap)
	const net4 = 68
	sipPort, calleePort, mMin, mMax := v6Ports(net4)
	e := newEnv(t, net4, func(c *policy.Config) {
		c.Realms[1].Listeners = []policy.ListenerConfig{{Transport: "udp", Address: fmt.Sprintf("[::1]:%d", sipPort)}}
		c.Realms[1].Media = policy.RealmMediaConfig{Address: "::1", PortMin: mMin, PortMax: mMax}
		c.Trunks[0].Gateways = []policy.GatewayConfig{{Address: fmt.Sprintf("[::1]:%d", calleePort)}}
	})
	callee := StartSipp(t, SippOpts{Name: "callee6", Scenario: "uas_basic.xml", LocalIP: "::1", LocalPort: calleePort,
		MediaPort: 46000 + 2*net4, RTPEcho: true, Timeout: 30 * time.Second, Dir: e.dir})
	caller := e.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)

	inv := initialInvites(er, false)
	if len(inv) == 0 {
		t.Fatalf("callee got no INVITE\n%s", er.Report())
	}
	if !strings.Contains(inv[0].StartLine, fmt.Sprintf("@[::1]:%d ", calleePort)) {
		t.Errorf("IPv6 Request-URI: %s", inv[0].StartLine)
	}
	if !strings.Contains(inv[0].Body, "c=IN IP6 ::1") {
		t.Errorf("SDP to the IPv6 trunk is not IN IP6:\n%s", inv[0].Body)
	}
	if v := inv[0].Header("Via"); !strings.Contains(v, fmt.Sprintf("[::1]:%d", sipPort)) {
		t.Errorf("Via to the IPv6 trunk: %s", v)
	}
	if strings.Contains(inv[0].Raw, e.topo.AccessIP()) || strings.Contains(inv[0].Raw, e.topo.CallerIP(0)) {
		t.Errorf("IPv6 INVITE leaks the IPv4 side:\n%s", inv[0].Raw)
	}
	ok := cr.Responses(false, 200, "INVITE")
	if len(ok) == 0 {
		t.Fatal("caller got no 200")
	}
	checkSDP(t, "answer to the IPv4 caller", ok[0].Body, e.topo.AccessIP(), AccessMediaMin, AccessMediaMax)
	l := e.callEnded(cr)
	if a, b := rtpIn(t, l); a <= 0 || b <= 0 {
		t.Errorf("media across families: a_rtp_in=%d b_rtp_in=%d", a, b)
	}
}
