package snmp_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/openborder/openborder/firmware/snmp"
)

// The daemon implements Source over its own counters and hands the agent
// to its shutdown path; New returns at once and connects in the background.
func Example() {
	start := time.Now()
	src := snmp.SourceFunc(func() snmp.Snapshot {
		return snmp.Snapshot{
			System: snmp.System{Version: "1.0.0", Uptime: time.Since(start)},
			Trunks: []snmp.Trunk{{Name: "pbx", Up: true, Gateways: 1, GatewaysUp: 1}},
		}
	})
	agent, err := snmp.New(snmp.Config{Address: "tcp:127.0.0.1:705"}, src, slog.Default())
	if err != nil {
		return
	}
	defer agent.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Fails with ErrNotConnected while snmpd is not reachable.
	_ = agent.Notify(ctx, snmp.TrunkDown{Trunk: "pbx", Gateways: 1, Reason: "OPTIONS timeout"})
}
