package e2e

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// hostileInvite builds an INVITE from the test socket with extra headers
// and a body; cl < 0 writes the body's real length.
func hostileInvite(extra, body string, cl int) string {
	if cl < 0 {
		cl = len(body)
	}
	return "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKhostile\r\n" +
		"Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:eve@127.0.0.1>;tag=h1\r\nCall-ID: hostile\r\n" +
		"CSeq: 1 INVITE\r\nContact: <sip:eve@127.0.0.1>\r\n" + extra + "Content-Type: application/sdp\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", cl) + body
}

const hostileSDP = "v=0\r\no=eve 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// TestSecurityHostileMessages sends malformed and hostile messages: sbcd
// answers each as listed (or drops it), stays up, closes slowloris TCP
// connections, and a normal call succeeds afterwards.
func TestSecurityHostileMessages(t *testing.T) {
	t.Parallel()
	const nw = 34
	topo := Topology{Net: nw}
	e := newEnv(t, nw, func(c *policy.Config) {
		c.Realms[0].Listeners = append(c.Realms[0].Listeners, policy.ListenerConfig{Transport: "tcp", Address: topo.AccessSIP()})
		c.Security.TCP.MessageTimeout = time.Second
		c.Security.Scanner.Disabled = true
		// The core realm takes requests from the pbx trunk's gateway only.
		c.Realms[1].Security.TrunksOnly = true
	})
	src := e.topo.CallerIP(3)
	target := e.topo.AccessSIP()
	good := hostileInvite("", hostileSDP, -1)
	cases := []struct {
		name   string
		msg    string
		tr     string
		accept string
	}{
		{"truncated in a header", good[:120], "udp", "400|none"},
		{"truncated start line", "INVITE sip:bob@127.0.0.1 SI", "udp", "none"},
		{"oversized", hostileInvite("X-Pad: "+strings.Repeat("a", 1500)+"\r\n", strings.Repeat("v=0\r\n", 4000), -1), "udp", "513"},
		{"1500 Via headers", hostileInvite(strings.Repeat("Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKv\r\n", 1500), hostileSDP, -1), "udp", "513|400"},
		{"10000 Via headers over TCP", hostileInvite(strings.Repeat("Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKv\r\n", 10000), hostileSDP, -1), "tcp", "400|none"},
		{"Content-Length larger than body", hostileInvite("", hostileSDP, 5000), "udp", "400"},
		{"Content-Length negative", strings.Replace(good, fmt.Sprintf("Content-Length: %d", len(hostileSDP)), "Content-Length: -7", 1), "udp", "400"},
		{"two Content-Lengths", strings.Replace(good, "Content-Type:", "Content-Length: 3\r\nContent-Type:", 1), "udp", "400"},
		{"NUL in a header", strings.Replace(good, "eve@", "e\x00ve@", 1), "udp", "400"},
		{"invalid UTF-8", strings.Replace(good, "Call-ID: hostile", "Call-ID: host\xc3\x28ile", 1), "udp", "400"},
		{"SDP port out of range", hostileInvite("", strings.Replace(hostileSDP, "4000", "99999999", 1), -1), "udp", "488"},
		{"SDP with 200 media lines", hostileInvite("", hostileSDP+strings.Repeat("m=audio 4000 RTP/AVP 0\r\n", 200), -1), "udp", "488"},
		{"SDP garbage", hostileInvite("", "v=0\r\n\x01\x02\x03\r\n", -1), "udp", "488"},
		{"Max-Forwards 10^12", strings.Replace(good, "Max-Forwards: 70", "Max-Forwards: 1000000000000", 1), "udp", "400"},
		{"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", "udp", "none"},
		{"response from nowhere", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n", "udp", "none"},
		{"CSeq overflow", strings.Replace(good, "CSeq: 1 INVITE", "CSeq: 99999999999999999999 INVITE", 1), "udp", "400"},
		{"NUL flood", string(make([]byte, 2000)), "udp", "none"},
		{"Content-Length larger than body over TCP", hostileInvite("", hostileSDP, 50000), "tcp", "400|none"},
	}
	for _, c := range cases {
		got, err := sendTorture(c.tr, src, target, []byte(c.msg), tortureCase{flags: "randomize=no"}, "", 700*time.Millisecond)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !accepts(c.accept, got) {
			t.Errorf("%s (%s): got %v, want %s", c.name, c.tr, got, c.accept)
		}
	}

	// ACL: the core realm ignores a source that is not a trunk gateway and
	// answers the gateway.
	if got, err := sendTorture("udp", e.topo.CallerIP(0), e.topo.CoreSIP(), []byte(optionsPing("udp")), tortureCase{}, "acl", 700*time.Millisecond); err != nil || len(got) != 0 {
		t.Errorf("core realm answered a stranger: %v %v", got, err)
	}
	if got, err := sendTorture("udp", e.topo.GatewayIP(0), e.topo.CoreSIP(), []byte(optionsPing("udp")), tortureCase{}, "acl", 2*time.Second); err != nil || !accepts("final", got) {
		t.Errorf("core realm did not answer its gateway: %v %v", got, err)
	}

	// Slowloris: connections that never finish a message are closed after
	// security.tcp.message_timeout, and others are served meanwhile.
	var slow []net.Conn
	for range 10 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP "))
		slow = append(slow, c)
	}
	if got, err := sendTorture("tcp", e.topo.CallerIP(4), target, []byte(optionsPing("tcp")), tortureCase{}, "slow", 2*time.Second); err != nil || !accepts("final", got) {
		t.Errorf("OPTIONS over TCP during slowloris: %v %v", got, err)
	}
	start := time.Now()
	for i, c := range slow {
		// Keep trickling: a byte now and then must not keep it open.
		_, _ = c.Write([]byte("1"))
		_ = c.SetReadDeadline(time.Now().Add(4 * time.Second))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err == nil {
			t.Errorf("slow connection %d: read %q instead of a close", i, buf[:n])
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow connections closed after %s, want about 1 s", d)
	}

	// sbcd is up and a normal call succeeds.
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, nil)
	wantExit0(t, caller.Wait(t), callee.Wait(t))
	if bytes.Contains([]byte(e.sbcd.Dump(0)), []byte("panic")) {
		t.Error("sbcd logged a panic")
	}
}
