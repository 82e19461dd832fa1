package hep

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sipPacket(i int) *Packet {
	return &Packet{
		Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(5090+i)),
		Transport: TransportUDP, Time: time.Now(), Type: ProtoSIP, CorrelationID: "call-1", Payload: []byte(invite),
	}
}

func TestSenderUDP(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := NewSender(SenderConfig{Addr: pc.LocalAddr().String(), AgentID: 42, Password: "secret", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const n = 5
	for i := range n {
		if !s.Send(sipPacket(i)) {
			t.Fatalf("packet %d refused", i)
		}
	}
	buf := make([]byte, 65535)
	for i := range n {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		p, err := Decode(buf[:m])
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.AgentID != 42 || p.Password != "secret" || p.CorrelationID != "call-1" || string(p.Payload) != invite {
			t.Errorf("packet %d: %+v", i, p)
		}
		if want := uint16(5090 + i); p.Dst.Port() != want {
			t.Errorf("packet %d: destination port %d, want %d (order lost)", i, p.Dst.Port(), want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != n || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v, want %d sent", st, n)
	}
	if s.Send(sipPacket(0)) {
		t.Error("Send after Close accepted a packet")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for range 100 {
		if runtime.NumGoroutine() <= goroutines {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before", n, goroutines)
	}
}

func TestSenderTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := NewSender(SenderConfig{Network: "tcp", Addr: ln.Addr().String(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 3
	for i := range n {
		s.Send(sipPacket(i))
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range n {
		hdr := make([]byte, 6)
		if _, err := io.ReadFull(c, hdr); err != nil {
			t.Fatalf("packet %d header: %v", i, err)
		}
		total, err := PacketLength(hdr)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, total)
		copy(b, hdr)
		if _, err := io.ReadFull(c, b[6:]); err != nil {
			t.Fatal(err)
		}
		p, err := Decode(b)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.Dst.Port() != uint16(5090+i) {
			t.Errorf("packet %d out of order: port %d", i, p.Dst.Port())
		}
	}
}

// TestSenderNeverBlocks stalls the sender's goroutine inside Dial and
// floods it: Send must return at once and count what it cannot queue.
func TestSenderNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("collector down")
	}
	s, err := NewSender(SenderConfig{Network: "tcp", Addr: "127.0.0.1:9", QueueLen: 8, Dial: dial, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const flood = 10000
	accepted := 0
	start := time.Now()
	for i := range flood {
		if s.Send(sipPacket(i % 10)) {
			accepted++
		}
	}
	elapsed := time.Since(start)
	if elapsed > 2*time.Second {
		t.Errorf("%d sends took %v: Send waits", flood, elapsed)
	}
	st := s.Stats()
	// Eight buffers, one of which the stalled goroutine holds.
	if accepted < 8 || accepted > 9 {
		t.Errorf("accepted %d packets with a queue of 8", accepted)
	}
	if st.Dropped != uint64(flood-accepted) {
		t.Errorf("dropped %d, want %d", st.Dropped, flood-accepted)
	}
	close(release)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != 0 || st.Failed != uint64(accepted) {
		t.Errorf("after Close with the collector down: %+v, want %d failed", st, accepted)
	}
}

func TestSenderInvalidPacket(t *testing.T) {
	s, err := NewSender(SenderConfig{Addr: "127.0.0.1:9", QueueLen: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bad := sipPacket(0)
	bad.Dst = netip.MustParseAddrPort("[::1]:5060")
	for range 3 {
		if s.Send(bad) {
			t.Fatal("mixed-family packet accepted")
		}
	}
	if st := s.Stats(); st.Invalid != 3 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 3 invalid (buffer returned each time)", st)
	}
}

func TestSenderConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  SenderConfig
	}{
		{"no address", SenderConfig{}},
		{"bad network", SenderConfig{Network: "sctp", Addr: "127.0.0.1:9060"}},
		{"address without port", SenderConfig{Addr: "127.0.0.1"}},
		{"negative queue", SenderConfig{Addr: "127.0.0.1:9060", QueueLen: -1}},
		{"negative delay", SenderConfig{Addr: "127.0.0.1:9060", ReconnectDelay: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSender(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// BenchmarkSenderSend measures Send alone: the sender's goroutine is
// replaced by the loop, which takes each packet off the queue and returns
// its buffer as the goroutine would after writing it.
func BenchmarkSenderSend(b *testing.B) {
	s := &Sender{cfg: SenderConfig{AgentID: 1}, free: make(chan *[]byte, 1), queue: make(chan *[]byte, 1)}
	buf := make([]byte, 0, 2048)
	s.free <- &buf
	p := sipPacket(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Payload)))
	for b.Loop() {
		if !s.Send(p) {
			b.Fatal("refused")
		}
		s.free <- <-s.queue
	}
}

// BenchmarkSenderThroughput measures what reaches a UDP collector on
// loopback when Send is called no faster than the sender drains.
func BenchmarkSenderThroughput(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() { // the collector: read and discard until closed
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	s, err := NewSender(SenderConfig{Addr: pc.LocalAddr().String(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	p := sipPacket(0)
	b.ReportAllocs()
	for b.Loop() {
		for !s.Send(p) {
			runtime.Gosched()
		}
	}
	_ = s.Close()
	st := s.Stats()
	b.ReportMetric(float64(st.Sent)/b.Elapsed().Seconds(), "packets/s")
}
