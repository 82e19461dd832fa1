package e2e

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/firmware/hep"
	"github.com/openborder/openborder/policy"
)

// hepCollector is a HEPv3 collector on loopback UDP that keeps what it
// decodes.
type hepCollector struct {
	pc   net.PacketConn
	mu   sync.Mutex
	pkts []hep.Packet
}

func newHEPCollector(t *testing.T) *hepCollector {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &hepCollector{pc: pc}
	serveUDP(t, pc, func(b []byte) {
		p, err := hep.Decode(bytes.Clone(b))
		if err != nil {
			t.Errorf("collector got an undecodable HEP packet: %v", err)
			return
		}
		c.mu.Lock()
		c.pkts = append(c.pkts, p)
		c.mu.Unlock()
	})
	return c
}

func (c *hepCollector) find(match func(hep.Packet) bool) []hep.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []hep.Packet
	for _, p := range c.pkts {
		if match(p) {
			out = append(out, p)
		}
	}
	return out
}

// TestHEPCarriesSIPAndRTCP: with a HEP collector configured and no capture
// running, every SIP message and the RTCP the call's peers send reach the
// collector, the RTCP correlated to the caller's Call-ID.
func TestHEPCarriesSIPAndRTCP(t *testing.T) {
	t.Parallel()
	col := newHEPCollector(t)
	e := newEnv(t, 77, func(c *policy.Config) {
		c.Capture.HEP = policy.HEPConfig{Address: col.pc.LocalAddr().String(), AgentID: 2001}
	})
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	ip := e.topo.CallerIP(0)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "bob", e.topo.AccessSIP(), pcmaOffer(ip, 6100))
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	addr, port, err := SDPConnection(string(answer))
	if err != nil {
		t.Fatal(err)
	}
	media := newRTPPeer(t, ip+":6100")
	rtcp := newRTPPeer(t, ip+":6101")
	sbcdRTP := &net.UDPAddr{IP: net.ParseIP(addr), Port: port}
	media.send(t, sbcdRTP, 0xCAFE, 5)
	// a receiver report from the caller's RTCP port (RFC 3550 6.4.2)
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0xCA, 0xFE, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := rtcp.conn.WriteToUDP(rr, &net.UDPAddr{IP: sbcdRTP.IP, Port: port + 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	wantExit0(t, callee.Wait(t))

	deadline := time.Now().Add(3 * time.Second)
	var reports []hep.Packet
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		reports = col.find(func(p hep.Packet) bool { return p.Type == hep.ProtoRTCP })
		if len(reports) > 0 {
			break
		}
	}
	if len(reports) == 0 {
		t.Fatal("no RTCP reached the HEP collector")
	}
	r := reports[0]
	if r.CorrelationID != caller.CallID() || !bytes.Equal(r.Payload, rr) || r.AgentID != 2001 {
		t.Errorf("RTCP over HEP: correlation %q (want %q), agent %d, payload %x (want %x)",
			r.CorrelationID, caller.CallID(), r.AgentID, r.Payload, rr)
	}
	if r.Src.Port() != 6101 || r.Dst.Port() != uint16(port+1) {
		t.Errorf("RTCP over HEP from %s to %s, want from the caller's :6101 to sbcd's :%d", r.Src, r.Dst, port+1)
	}
	sips := col.find(func(p hep.Packet) bool { return p.Type == hep.ProtoSIP && p.CorrelationID == caller.CallID() })
	if len(sips) < 4 { // INVITE, 100/200, ACK, BYE, 200 at least on the caller's leg
		var lines []string
		for _, p := range col.find(func(p hep.Packet) bool { return p.Type == hep.ProtoSIP }) {
			first, _, _ := bytes.Cut(p.Payload, []byte("\r\n"))
			lines = append(lines, p.CorrelationID+" "+string(first))
		}
		t.Errorf("collector got %d SIP messages of the caller's leg, want the whole dialog:\n%s", len(sips), strings.Join(lines, "\n"))
	}
	oks := col.find(func(p hep.Packet) bool {
		return p.Type == hep.ProtoSIP && p.CorrelationID == caller.CallID() && bytes.HasPrefix(p.Payload, []byte("SIP/2.0 200"))
	})
	if len(oks) == 0 {
		t.Error("collector got none of sbcd's 200 responses to the caller")
	} else if oks[0].Src.String() != e.topo.AccessSIP() || oks[0].Dst.Addr().String() != ip {
		t.Errorf("200 to the caller over HEP from %s to %s, want from %s to %s", oks[0].Src, oks[0].Dst, e.topo.AccessSIP(), ip)
	}
	if n := len(col.find(func(p hep.Packet) bool { return p.Type == hep.ProtoRTP })); n != 0 {
		t.Errorf("collector got %d RTP packets; only RTCP is exported", n)
	}
}
