package rtpengine

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// testPortBase is the start of the loopback port range the tests of this
// package use; each test takes its own slice of it.
const testPortBase = 41000

func testIface(name string, min, max int) InterfaceConfig {
	ic, err := InterfaceConfig{Name: name, Addr: netip.MustParseAddr("127.0.0.1"), PortMin: min, PortMax: max}.withDefaults()
	if err != nil {
		panic(err)
	}
	return ic
}

func listenDefault(a *net.UDPAddr) (*net.UDPConn, error) { return net.ListenUDP("udp", a) }

// testOpeners are the socket models the pool tests run with.
func testOpeners() map[string]sockOpener {
	m := map[string]sockOpener{"goroutine": udpOpener(listenDefault)}
	if rawRelaySupported {
		m["epoll"] = openRaw
	}
	return m
}

func TestPool(t *testing.T) {
	tests := map[string]func(*testing.T, sockOpener){
		"allocates even pairs": testPoolAllocatesEvenPairs,
		"mux only opens rtp":   testPoolMuxOnlyOpensRTP,
		"draining":             testPoolDraining,
		"skips ports in use":   testPoolSkipsPortsInUse,
		"sets dscp":            testPoolSetsDSCP,
	}
	for mode, open := range testOpeners() {
		for name, fn := range tests {
			t.Run(mode+"/"+name, func(t *testing.T) { fn(t, open) })
		}
	}
}

func testPoolAllocatesEvenPairs(t *testing.T, open sockOpener) {
	p := newPool(testIface("a", testPortBase+1, testPortBase+8), time.Second, open)
	if p.capacity() != 3 { // 41002/3, 41004/5, 41006/7
		t.Fatalf("capacity %d", p.capacity())
	}
	var got []*portPair
	for range 3 {
		pp, err := p.allocate(true)
		if err != nil {
			t.Fatal(err)
		}
		if pp.port%2 != 0 || pp.port < testPortBase+2 || pp.port > testPortBase+6 {
			t.Fatalf("port %d", pp.port)
		}
		if rtcp := pp.rtcp.Load(); rtcp == nil || rtcp.LocalAddr().(*net.UDPAddr).Port != pp.port+1 {
			t.Fatalf("rtcp socket of %d: %v", pp.port, rtcp)
		}
		got = append(got, pp)
	}
	if _, err := p.allocate(true); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("exhausted pool: %v", err)
	}
	for _, pp := range got {
		p.release(pp)
	}
	p.release(got[0]) // double release is harmless
	if p.inUse() != 0 {
		t.Fatalf("in use %d", p.inUse())
	}
}

func testPoolMuxOnlyOpensRTP(t *testing.T, open sockOpener) {
	p := newPool(testIface("a", testPortBase+10, testPortBase+11), time.Second, open)
	pp, err := p.allocate(false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.release(pp)
	if pp.rtcp.Load() != nil {
		t.Fatal("rtcp socket opened for rtcp-mux")
	}
	if err := p.openRTCP(pp); err != nil || pp.rtcp.Load() == nil {
		t.Fatalf("openRTCP: %v", err)
	}
}

func testPoolDraining(t *testing.T, open sockOpener) {
	now := time.Unix(1000, 0)
	p := newPool(testIface("a", testPortBase+20, testPortBase+21), 5*time.Second, open)
	p.now = func() time.Time { return now }
	pp, err := p.allocate(true)
	if err != nil {
		t.Fatal(err)
	}
	p.release(pp)
	if _, err := p.allocate(true); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("draining port handed out: %v", err)
	}
	now = now.Add(4 * time.Second)
	if _, err := p.allocate(true); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("port handed out before drain ended: %v", err)
	}
	now = now.Add(time.Second)
	pp, err = p.allocate(true)
	if err != nil {
		t.Fatalf("after drain: %v", err)
	}
	p.release(pp)
}

func testPoolSkipsPortsInUse(t *testing.T, open sockOpener) {
	busy, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: testPortBase + 31})
	if err != nil {
		skipUnlessCI(t, "cannot occupy test port: %v", err)
	}
	defer busy.Close()
	p := newPool(testIface("a", testPortBase+30, testPortBase+33), time.Second, open)
	pp, err := p.allocate(true) // 41030 has its RTCP port taken: skip to 41032
	if err != nil {
		t.Fatal(err)
	}
	defer p.release(pp)
	if pp.port != testPortBase+32 {
		t.Fatalf("port %d, want %d", pp.port, testPortBase+32)
	}
	_, err = p.allocate(true)
	if !errors.Is(err, ErrNoPorts) {
		t.Fatalf("err %v", err)
	}
}

func testPoolSetsDSCP(t *testing.T, open sockOpener) {
	ic := testIface("a", testPortBase+40, testPortBase+41)
	ic.DSCP = 46
	p := newPool(ic, time.Second, open)
	pp, err := p.allocate(true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.release(pp)
	tos, err := socketTOS(pp.rtp)
	if err != nil {
		skipUnlessCI(t, "cannot read TOS: %v", err)
	}
	if tos != 46<<2 {
		t.Fatalf("TOS %#x, want %#x", tos, 46<<2)
	}
}

func TestInterfaceConfigValidation(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tt := range []struct {
		name string
		ic   InterfaceConfig
	}{
		{"no name", InterfaceConfig{Addr: lo, PortMin: 2, PortMax: 3}},
		{"no addr", InterfaceConfig{Name: "a", PortMin: 2, PortMax: 3}},
		{"reversed range", InterfaceConfig{Name: "a", Addr: lo, PortMin: 10, PortMax: 2}},
		{"no pair", InterfaceConfig{Name: "a", Addr: lo, PortMin: 3, PortMax: 4}},
		{"bad dscp", InterfaceConfig{Name: "a", Addr: lo, PortMin: 2, PortMax: 3, DSCP: 64}},
		{"family mismatch", InterfaceConfig{Name: "a", Addr: lo, Advertised: netip.MustParseAddr("::1"), PortMin: 2, PortMax: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.ic.withDefaults(); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("err %v", err)
			}
		})
	}
	ic, err := InterfaceConfig{Name: "a", Addr: lo, PortMin: 2, PortMax: 3}.withDefaults()
	if err != nil || ic.DSCP != 46 || ic.Advertised != lo {
		t.Fatalf("defaults: %+v %v", ic, err)
	}
}
