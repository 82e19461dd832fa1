package kamailio_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine"
)

// relayEngine is a minimal stand-in for the media engine: one socket per
// side, latching on the first packet, no RTCP, no codec handling. It checks
// the Kamailio/sipp/ng plumbing independently of the real engine.
type relayEngine struct {
	addr netip.Addr

	mu    sync.Mutex
	next  int
	calls map[string]*relayCall
}

type relayCall struct {
	id      string
	created time.Time
	tags    [2]string
	sides   [2]*relaySide // 0 faces the offerer, 1 the answerer
	sdp     [2][]byte     // replies already given, for retransmitted commands
	wg      sync.WaitGroup
}

type relaySide struct {
	conn              *net.UDPConn
	peer              atomic.Pointer[netip.AddrPort]
	pktIn, pktOut     atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
}

var errNoCall = errors.New("call not found")

func newRelayEngine() *relayEngine {
	return &relayEngine{addr: netip.MustParseAddr(engAddr), next: portMin, calls: map[string]*relayCall{}}
}

// listen binds the next free port of the range; the caller holds mu.
func (e *relayEngine) listen() (*net.UDPConn, error) {
	for range portMax - portMin + 1 {
		port := e.next
		e.next++
		if e.next > portMax {
			e.next = portMin
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.addr, uint16(port))))
		if err == nil {
			return c, nil
		}
	}
	return nil, errors.New("no free ports")
}

func (e *relayEngine) Offer(_ context.Context, r rtpengine.OfferRequest) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.calls[r.CallID]; ok && c.sdp[0] != nil {
		return c.sdp[0], nil
	}
	peer, ok := endpointOf(r.SDP)
	if !ok {
		return nil, errors.New("offer without audio endpoint")
	}
	c := &relayCall{id: r.CallID, created: time.Now(), tags: [2]string{r.FromTag, r.ToTag}}
	for i := range c.sides {
		conn, err := e.listen()
		if err != nil {
			c.close()
			return nil, err
		}
		c.sides[i] = &relaySide{conn: conn}
	}
	c.sides[0].peer.Store(&peer)
	for i := range c.sides {
		c.wg.Add(1)
		go c.relay(c.sides[i], c.sides[1-i])
	}
	c.sdp[0] = rewriteSDP(r.SDP, e.addr, c.sides[1].conn, r.Flags.ReplaceOrigin)
	e.calls[r.CallID] = c
	return c.sdp[0], nil
}

func (e *relayEngine) Answer(_ context.Context, r rtpengine.AnswerRequest) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.calls[r.CallID]
	if !ok {
		return nil, errNoCall
	}
	peer, ok := endpointOf(r.SDP)
	if !ok {
		return nil, errors.New("answer without audio endpoint")
	}
	c.tags[1] = r.ToTag
	c.sides[1].peer.Store(&peer)
	c.sdp[1] = rewriteSDP(r.SDP, e.addr, c.sides[0].conn, r.Flags.ReplaceOrigin)
	return c.sdp[1], nil
}

func (e *relayEngine) Delete(callID, _ string) (rtpengine.CallStats, error) {
	e.mu.Lock()
	c, ok := e.calls[callID]
	delete(e.calls, callID)
	e.mu.Unlock()
	if !ok {
		return rtpengine.CallStats{}, errNoCall
	}
	c.close()
	return c.stats(), nil
}

func (e *relayEngine) Query(callID string) (rtpengine.CallStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.calls[callID]
	if !ok {
		return rtpengine.CallStats{}, errNoCall
	}
	return c.stats(), nil
}

func (e *relayEngine) List(max int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for id := range e.calls {
		if len(ids) >= max {
			break
		}
		ids = append(ids, id)
	}
	return ids
}

func (e *relayEngine) Close() {
	e.mu.Lock()
	calls := e.calls
	e.calls = map[string]*relayCall{}
	e.mu.Unlock()
	for _, c := range calls {
		c.close()
	}
}

// relay forwards what in receives to out's peer, latching in's peer.
func (c *relayCall) relay(in, out *relaySide) {
	defer c.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, src, err := in.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		in.pktIn.Add(1)
		in.bytesIn.Add(uint64(n))
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		in.peer.Store(&src)
		dst := out.peer.Load()
		if dst == nil {
			continue
		}
		if _, err := out.conn.WriteToUDPAddrPort(buf[:n], *dst); err == nil {
			out.pktOut.Add(1)
			out.bytesOut.Add(uint64(n))
		}
	}
}

func (c *relayCall) close() {
	for _, s := range c.sides {
		if s != nil {
			_ = s.conn.Close()
		}
	}
	c.wg.Wait()
}

func (c *relayCall) stats() rtpengine.CallStats {
	cs := rtpengine.CallStats{CallID: c.id, Created: c.created}
	for i, s := range c.sides {
		st := rtpengine.StreamStats{
			Media:     "audio",
			Local:     s.conn.LocalAddr().(*net.UDPAddr).AddrPort(),
			PacketsIn: s.pktIn.Load(), BytesIn: s.bytesIn.Load(),
			PacketsOut: s.pktOut.Load(), BytesOut: s.bytesOut.Load(),
		}
		if p := s.peer.Load(); p != nil {
			st.Peer = *p
		}
		cs.Legs = append(cs.Legs, rtpengine.LegStats{Tag: c.tags[i], Streams: []rtpengine.StreamStats{st}})
	}
	return cs
}

// rewriteSDP points c= (and o= when asked) at addr and m=audio at conn's port.
func rewriteSDP(sdp []byte, addr netip.Addr, conn *net.UDPConn, origin bool) []byte {
	port := conn.LocalAddr().(*net.UDPAddr).Port
	lines := strings.Split(strings.TrimRight(string(sdp), "\r\n"), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			l = "c=IN IP4 " + addr.String()
		case strings.HasPrefix(l, "m=audio "):
			if f := strings.Fields(l); len(f) > 2 {
				f[1] = strconv.Itoa(port)
				l = strings.Join(f, " ")
			}
		case origin && strings.HasPrefix(l, "o="):
			if f := strings.Fields(l); len(f) == 6 {
				f[5] = addr.String()
				l = strings.Join(f, " ")
			}
		}
		lines[i] = l
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// TestKamailioWithRelayEngine checks the Kamailio, sipp and ng plumbing
// with the stand-in engine above.
func TestKamailioWithRelayEngine(t *testing.T) {
	requireTools(t)
	eng := newRelayEngine()
	defer eng.Close()
	runInterop(t, eng)
	if ids := eng.List(10); len(ids) != 0 {
		t.Errorf("calls left after the test: %v", ids)
	}
}
