package radius

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is an in-process accounting server on loopback. It checks each
// request's authenticator, records the valid ones and answers them unless
// it is down.
type fakeServer struct {
	t          testing.TB
	pc         net.PacketConn
	secret     string // verifies requests
	respSecret string // signs responses
	down       atomic.Bool
	bad        atomic.Int64 // requests with a wrong authenticator
	mu         sync.Mutex
	got        []*Packet
	seen       chan struct{}
	done       chan struct{}
}

func newFakeServer(t testing.TB, secret string) *fakeServer {
	return newFakeServerSigning(t, secret, secret)
}

func newFakeServerSigning(t testing.TB, secret, respSecret string) *fakeServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, pc: pc, secret: secret, respSecret: respSecret, seen: make(chan struct{}, 1024), done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { pc.Close(); <-s.done })
	return s
}

func (s *fakeServer) addr() string { return s.pc.LocalAddr().String() }

func (s *fakeServer) serve() {
	defer close(s.done)
	buf := make([]byte, MaxPacketLen)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if s.down.Load() {
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		p, err := Decode(pkt)
		if err != nil || p.Code != CodeAccountingRequest {
			continue
		}
		if !VerifyRequest(pkt, s.secret) {
			s.bad.Add(1)
			continue
		}
		s.mu.Lock()
		s.got = append(s.got, p)
		s.mu.Unlock()
		resp := make([]byte, HeaderLen)
		resp[0], resp[1] = byte(CodeAccountingResponse), p.Identifier
		binary.BigEndian.PutUint16(resp[2:], HeaderLen)
		SignResponse(resp, p.Authenticator, s.respSecret)
		if _, err := s.pc.WriteTo(resp, from); err != nil && !errors.Is(err, net.ErrClosed) {
			s.t.Errorf("fake server: %v", err)
		}
		select {
		case s.seen <- struct{}{}:
		default:
		}
	}
}

func (s *fakeServer) packets() []*Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Packet(nil), s.got...)
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attrString(p *Packet, typ uint8) string {
	v, _ := p.Get(typ)
	return string(v)
}

func attrU32(p *Packet, typ uint8) (uint32, bool) {
	v, ok := p.Get(typ)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}
