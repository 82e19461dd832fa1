package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/firmware/metrics"
	"github.com/openborder/openborder/firmware/overload"
	"github.com/openborder/openborder/firmware/snmp"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc"
	"github.com/openborder/openborder/sbc/guard"
)

// overloadWatch samples what sbcd sheds (admission refusals, rate-limit
// drops) and reports overload episodes: a log line, the openborder_overload
// metrics and the obOverload / obOverloadCleared notifications.
type overloadWatch struct {
	mon   *overload.Monitor
	agent atomic.Pointer[snmp.Agent]
	b     atomic.Pointer[sbc.B2BUA]
	log   *slog.Logger
}

func newOverloadWatch(c policy.OverloadConfig, m *metrics.Registry, g *guard.Guard, log *slog.Logger) (*overloadWatch, error) {
	w := &overloadWatch{log: log}
	read := func() overload.Counts {
		n := overload.Counts{Admission: m.AdmissionRefusals()}
		for _, st := range g.Stats() {
			if st.Stage == guard.StageRateLimit {
				n.Flood += st.N
			}
		}
		return n
	}
	mon, err := overload.NewMonitor(overload.Config{Interval: c.Interval, Raise: c.Raise, Clear: c.Clear, ClearAfter: c.ClearAfter},
		read, w.episode)
	if err != nil {
		return nil, err
	}
	w.mon = mon
	m.WatchOverload(mon.State)
	return w, nil
}

// run samples until ctx ends.
func (w *overloadWatch) run(ctx context.Context) { w.mon.Run(ctx) }

// state is the monitor's state (nil-safe for the SNMP source).
func (w *overloadWatch) state() overload.State {
	if w == nil {
		return overload.State{}
	}
	return w.mon.State()
}

func (w *overloadWatch) episode(ev overload.Event) {
	var active, maxCalls uint32
	if b := w.b.Load(); b != nil {
		active = uint32(b.ActiveCalls())
		maxCalls = maxCallsOf(b.Policy())
	}
	attrs := []any{"admission_per_s", ev.AdmissionRate, "flood_per_s", ev.FloodRate, "active_calls", active, "reason", ev.Reason}
	var trap snmp.Trap
	if ev.Overloaded {
		w.log.Warn("overload: shedding load", attrs...)
		trap = snmp.Overload{ActiveCalls: active, MaxCalls: maxCalls, Reason: ev.Reason}
	} else {
		w.log.Info("overload cleared", attrs...)
		trap = snmp.OverloadCleared{ActiveCalls: active, MaxCalls: maxCalls, Reason: ev.Reason}
	}
	a := w.agent.Load()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.Notify(ctx, trap); err != nil {
		w.log.Warn("overload notification not sent", "err", err)
	}
}

// maxCallsOf is the configured bound on concurrent calls: every call holds
// a slot of its caller's realm, so when every realm sets limits.max_calls
// their sum bounds the calls; 0 when a realm sets no limit.
func maxCallsOf(pol *policy.Set) uint32 {
	var sum uint32
	for _, r := range pol.Realms() {
		if r.Limits.MaxCalls <= 0 {
			return 0
		}
		sum += uint32(r.Limits.MaxCalls)
	}
	return sum
}
