package ng

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine"
)

// udpServer runs a Server on a loopback UDP socket and returns its address.
func udpServer(t *testing.T, eng *fakeEngine) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(eng, nil)
	done := make(chan struct{})
	go func() { _ = srv.Serve(context.Background(), pc); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return pc.LocalAddr().String()
}

func dialT(t *testing.T, addr string, cfg ClientConfig) *Client {
	t.Helper()
	c, err := Dial(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestClientCommandsConcurrently(t *testing.T) {
	eng := &fakeEngine{stats: rtpengine.CallStats{MOS: 4.2, RFactor: 85}}
	c := dialT(t, udpServer(t, eng), ClientConfig{})
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			d := NewDict(5)
			d.Set("command", Str("offer"))
			d.Set("call-id", Str("call-"+strconv.Itoa(i)))
			d.Set("from-tag", Str("A"))
			d.Set("sdp", Str("v=0\r\nm=audio 5000 RTP/AVP 0\r\n"))
			d.Set("direction", List(Str("access"), Str("core")))
			v, err := c.Do(ctx, d)
			if err != nil {
				errs <- err
				return
			}
			if sdp, _ := v.Get("sdp"); len(sdp.Str) == 0 {
				errs <- errors.New("reply without sdp")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eng.mu.Lock()
	n := len(eng.offers)
	ifc := eng.offers[0].Flags.FromInterface + ">" + eng.offers[0].Flags.ToInterface
	eng.mu.Unlock()
	if n != 50 || ifc != "access>core" {
		t.Errorf("engine saw %d offers, interfaces %s; want 50, access>core", n, ifc)
	}

	d := NewDict(2)
	d.Set("command", Str("delete"))
	d.Set("call-id", Str("call-1"))
	v, err := c.Do(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if mos, _ := v.Get("MOS"); mos.Int != 42 {
		t.Errorf("delete reply MOS %d, want 42", mos.Int)
	}
}

func TestClientRefusedAndBadCommands(t *testing.T) {
	eng := &fakeEngine{err: errors.New("no ports left")}
	c := dialT(t, udpServer(t, eng), ClientConfig{})
	d := NewDict(4)
	d.Set("command", Str("offer"))
	d.Set("call-id", Str("x"))
	d.Set("from-tag", Str("A"))
	d.Set("sdp", Str("v=0\r\n"))
	_, err := c.Do(context.Background(), d)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no ports left") {
		t.Errorf("offer on a failing engine: %v, want ErrRefused with the reason", err)
	}
	u := NewDict(1)
	u.Set("command", Str("frobnicate"))
	if _, err := c.Do(context.Background(), u); !errors.Is(err, ErrRefused) {
		t.Errorf("unknown command: %v, want ErrRefused", err)
	}
}

func TestClientNoNode(t *testing.T) {
	// a port nobody listens on: every try times out (or is refused by ICMP)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := dialT(t, addr, ClientConfig{Timeout: 30 * time.Millisecond, Tries: 2})
	start := time.Now()
	err = c.Ping(context.Background())
	if !errors.Is(err, ErrNoReply) {
		t.Errorf("ping of no node: %v, want ErrNoReply", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ping took %v, want about 60ms", d)
	}
}

func TestClientCloseUnblocks(t *testing.T) {
	eng := &fakeEngine{block: make(chan struct{})}
	defer close(eng.block)
	c := dialT(t, udpServer(t, eng), ClientConfig{Timeout: 5 * time.Second, Tries: 1})
	d := NewDict(4)
	d.Set("command", Str("offer"))
	d.Set("call-id", Str("x"))
	d.Set("from-tag", Str("A"))
	d.Set("sdp", Str("v=0\r\n"))
	errc := make(chan error, 1)
	go func() { _, err := c.Do(context.Background(), d); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClientClosed) {
			t.Errorf("Do during Close: %v, want ErrClientClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Do still waiting after Close")
	}
	if _, err := c.Do(context.Background(), d); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Do after Close: %v", err)
	}
}
