package kamailio_test

import (
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"
)

// The real engine satisfies the ng server's interface.
var _ ng.Engine = (*rtpengine.Engine)(nil)

// TestKamailioWithEngine runs the interop calls with the real media engine
// in-process: one interface on 127.0.0.1, ports 40000-40999.
func TestKamailioWithEngine(t *testing.T) {
	requireTools(t)
	eng, err := rtpengine.New(rtpengine.Config{
		Interfaces: []rtpengine.InterfaceConfig{{
			Name: "lo", Addr: netip.MustParseAddr(engAddr), PortMin: portMin, PortMax: portMax,
		}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("rtpengine.New: %v", err)
	}
	defer func() {
		if err := eng.Close(); err != nil {
			t.Errorf("engine Close: %v", err)
		}
	}()
	runInterop(t, eng)
	if ids := eng.List(10); len(ids) != 0 {
		t.Errorf("calls left in the engine: %v", ids)
	}
}
