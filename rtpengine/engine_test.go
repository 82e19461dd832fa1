package rtpengine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func TestCloseStopsEverything(t *testing.T) {
	base := goroutinesSettle(runtime.NumGoroutine())
	e := newTestEngine(t, 41700, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "c1", a, b)
	a.send(rtpPacket(0, 1, 0, 1, 20), sbcA)
	expectRTP(t, b, 1, sbcB)
	if _, err := e.Serve(context.Background(), ServeRequest{CallID: "c2", FromTag: "x", Service: "tone",
		SDP: peerSDP(a.addr.Port(), "sendrecv")}); err != nil {
		t.Fatal(err)
	}
	want := base + 5 // timer + 4 relay readers + 2 service readers + tone
	if e.relay != nil {
		want = base + 2 + e.relay.size() // timer + tone + relay workers
	}
	if got := runtime.NumGoroutine(); got < want {
		t.Fatalf("only %d goroutines, want %d", got, want)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if g := goroutinesSettle(base); g > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before\n%s", g, base, buf[:runtime.Stack(buf, true)])
	}
	if _, err := e.Offer(context.Background(), OfferRequest{CallID: "c3", FromTag: "a", SDP: peerSDP(1000, "sendrecv")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("offer after Close: %v", err)
	}
	if ids := e.List(0); len(ids) != 0 {
		t.Fatalf("calls after Close: %v", ids)
	}
}

// TestGoroutineRelay runs the relay tests with the portable socket model
// (the other tests use the default, the epoll relay on Linux).
func TestGoroutineRelay(t *testing.T) {
	if testRelay != RelayAuto {
		t.Skip("already running with a chosen relay")
	}
	testRelay = RelayGoroutine
	defer func() { testRelay = RelayAuto }()
	for name, fn := range map[string]func(*testing.T){
		"CloseStopsEverything":             TestCloseStopsEverything,
		"RelayBothWays":                    TestRelayBothWays,
		"RelayLatchingAndStrictSource":     TestRelayLatchingAndStrictSource,
		"RelayRelatchRule":                 TestRelayRelatchRule,
		"RelayDropsMalformed":              TestRelayDropsMalformed,
		"RelayReofferKeepsPortsAndHold":    TestRelayReofferKeepsPortsAndHold,
		"DeleteReleasesAndDrains":          TestDeleteReleasesAndDrains,
		"RTCPMux":                          TestRTCPMux,
		"ReofferDropsNothing":              TestReofferDropsNothing,
		"RelayMultiStream":                 TestRelayMultiStream,
		"ICELiteAnswersChecksAndNominates": TestICELiteAnswersChecksAndNominates,
		"SDESToPlainRelay":                 TestSDESToPlainRelay,
		"DTLSToPlainRelay":                 TestDTLSToPlainRelay,
		"ServeEcho":                        TestServeEcho,
		"ServeTone":                        TestServeTone,
		"CaptureTapsBothDirections":        TestCaptureTapsBothDirectionsOnlyWhileOn,
		"MetricsCountLiveAndReleased":      TestMetricsCountLiveAndReleasedTraffic,
	} {
		t.Run(name, fn)
	}
}

func TestRelayModeConfig(t *testing.T) {
	ifs := []InterfaceConfig{{Name: "a", Addr: loopback, PortMin: 2, PortMax: 3}}
	listen := func(*net.UDPAddr) (*net.UDPConn, error) { return nil, errors.New("unused") }
	for _, tt := range []struct {
		name    string
		cfg     Config
		want    RelayMode
		wantErr bool
	}{
		{"auto", Config{}, map[bool]RelayMode{true: RelayEpoll, false: RelayGoroutine}[rawRelaySupported], false},
		{"auto with ListenUDP", Config{ListenUDP: listen}, RelayGoroutine, false},
		{"goroutine", Config{Relay: RelayGoroutine}, RelayGoroutine, false},
		{"epoll with ListenUDP", Config{Relay: RelayEpoll, ListenUDP: listen}, "", true},
		{"unknown", Config{Relay: "kernel"}, "", true},
		{"negative workers", Config{RelayWorkers: -1}, "", true},
		{"too many workers", Config{RelayWorkers: 100000}, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Interfaces = ifs
			got, err := tt.cfg.withDefaults()
			if tt.wantErr {
				if !errors.Is(err, ErrBadConfig) {
					t.Fatalf("err %v, want ErrBadConfig", err)
				}
				return
			}
			if err != nil || got.Relay != tt.want || got.RelayWorkers < 1 {
				t.Fatalf("relay %q workers %d err %v, want %q", got.Relay, got.RelayWorkers, err, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no interfaces", Config{}},
		{"duplicate", Config{Interfaces: []InterfaceConfig{
			{Name: "a", Addr: loopback, PortMin: 2, PortMax: 3}, {Name: "a", Addr: loopback, PortMin: 4, PortMax: 5}}}},
		{"negative timeout", Config{Timeout: -time.Second, Interfaces: []InterfaceConfig{{Name: "a", Addr: loopback, PortMin: 2, PortMax: 3}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestListAndDeleteTag(t *testing.T) {
	e := newTestEngine(t, 41740, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	relayCall(t, e, "l2", a, b)
	relayCall(t, e, "l1", a, b)
	if ids := e.List(0); len(ids) != 2 || ids[0] != "l1" || ids[1] != "l2" {
		t.Fatalf("List %v", ids)
	}
	if ids := e.List(1); len(ids) != 1 {
		t.Fatalf("List(1) %v", ids)
	}
	if _, err := e.Delete("l1", "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tag: %v", err)
	}
	if _, err := e.Delete("l1", "b"); err != nil {
		t.Fatal(err)
	}
	if ids := e.List(0); len(ids) != 1 || ids[0] != "l2" {
		t.Fatalf("List after delete %v", ids)
	}
}

func TestEModel(t *testing.T) {
	for _, tt := range []struct {
		name       string
		delay      time.Duration
		loss       float64
		minR, maxR float64
	}{
		{"perfect", 0, 0, 93.1, 93.3},
		{"40ms no loss", 40 * time.Millisecond, 0, 92, 92.3},
		{"1% loss", 40 * time.Millisecond, 1, 88, 89.5},
		{"5% loss", 40 * time.Millisecond, 5, 75, 77},
		{"long delay", 400 * time.Millisecond, 0, 58, 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rFactor(tt.delay, tt.loss)
			if r < tt.minR || r > tt.maxR {
				t.Fatalf("R %v not in [%v,%v]", r, tt.minR, tt.maxR)
			}
		})
	}
	if m := mosFromR(93.2); m < 4.40 || m > 4.42 {
		t.Fatalf("MOS(93.2) = %v", m)
	}
	if mosFromR(-5) != 1 || mosFromR(120) != 4.5 {
		t.Fatal("MOS clamps")
	}
}
