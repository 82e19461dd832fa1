package e2e

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// rtpPeer is one RTP socket of a test peer: it sends G.711 packets to
// sbcd and counts what comes back.
type rtpPeer struct {
	conn *net.UDPConn
	got  atomic.Int64
	seq  uint16
	ts   uint32
}

func newRTPPeer(t *testing.T, addr string) *rtpPeer {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		t.Fatal(err)
	}
	p := &rtpPeer{conn: c}
	serveUDP(t, c, func(b []byte) {
		var pkt rtp.Packet
		if pkt.Unmarshal(b) == nil {
			p.got.Add(1)
		}
	})
	return p
}

// serveUDP hands every datagram c receives to handle (its buffer is
// reused: copy what you keep) until the test ends and closes c.
func serveUDP(t *testing.T, c net.PacketConn, handle func([]byte)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			handle(buf[:n])
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

// send sends n 20 ms PCMA packets of ssrc to dst, paced in real time.
func (p *rtpPeer) send(t *testing.T, dst *net.UDPAddr, ssrc uint32, n int) {
	t.Helper()
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xd5
	}
	for range n {
		p.seq++
		p.ts += 160
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: ssrc}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.conn.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLatchingBehindNAT: the caller's SDP names one media port, its packets
// come from another (a NAT's mapping). sbcd latches onto the real source
// and sends the far side's media there; a second source with the same
// stream is refused while the first is alive; after the first falls
// silent, a new stream from the new source takes the latch over.
func TestLatchingBehindNAT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 72, nil)
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	ip := e.topo.CallerIP(0)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer := fmt.Sprintf("v=0\r\no=gocaller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n", ip, ip)
	answer, err := caller.Call(ctx, "bob", e.topo.AccessSIP(), []byte(offer))
	if err != nil {
		t.Fatalf("call: %v\n%s", err, e.sbcd.Dump(40))
	}
	addr, port, err := SDPConnection(string(answer))
	if err != nil {
		t.Fatal(err)
	}
	sbcd := &net.UDPAddr{IP: net.ParseIP(addr), Port: port}

	nat1 := newRTPPeer(t, ip+":6100")
	nat1.send(t, sbcd, 0x1111, 25)
	time.Sleep(100 * time.Millisecond)
	if got := nat1.got.Load(); got < 15 {
		t.Fatalf("latched source got %d of 25 echoed packets, want most of them (media must follow the real source, not the SDP port)", got)
	}

	// a second source with the same SSRC while the first is alive: refused
	nat2 := newRTPPeer(t, ip+":6200")
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				nat1.send(t, sbcd, 0x1111, 1)
			}
		}
	}()
	nat2.send(t, sbcd, 0x1111, 15)
	close(stop)
	time.Sleep(100 * time.Millisecond)
	if got := nat2.got.Load(); got != 0 {
		t.Errorf("hijacking source got %d packets while the latched one was alive, want 0", got)
	}

	// the first source falls silent; a new stream from the new source re-latches
	time.Sleep(1300 * time.Millisecond)
	nat2.send(t, sbcd, 0x2222, 25)
	time.Sleep(100 * time.Millisecond)
	if got := nat2.got.Load(); got < 15 {
		t.Errorf("new source got %d of 25 echoed packets after the old one fell silent, want most (re-latch)", got)
	}

	if err := caller.Hangup(ctx); err != nil {
		t.Errorf("bye: %v", err)
	}
	wantExit0(t, callee.Wait(t))
}
