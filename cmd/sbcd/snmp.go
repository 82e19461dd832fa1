package main

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/openborder/openborder/firmware/metrics"
	"github.com/openborder/openborder/firmware/snmp"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
	"github.com/openborder/openborder/sbc/health"
)

// reloadState remembers the last reload for SNMP.
type reloadState struct {
	mu      sync.Mutex
	at      time.Time
	status  snmp.ReloadStatus
	message string
}

// firstLine keeps a reload error short enough for a MIB string.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (r *reloadState) set(ok bool, msg string) {
	msg = firstLine(msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = time.Now()
	r.status = snmp.ReloadSuccess
	r.message = ""
	if !ok {
		r.status = snmp.ReloadFailed
		r.message = msg
	}
}

func (r *reloadState) get() (time.Time, snmp.ReloadStatus, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at, r.status, r.message
}

// lastReload is the daemon's reload record (one daemon per process).
var lastReload reloadState

// snmpSource builds OPENBORDER-MIB snapshots, cached for a second: a walk
// is many AgentX requests, and listing calls asks every call's actor.
type snmpSource struct {
	b       *sbc.B2BUA
	e       *rtpengine.Engine
	m       *metrics.Registry
	ovl     *overloadWatch
	started time.Time

	mu     sync.Mutex
	cached snmp.Snapshot
	at     time.Time
}

func (s *snmpSource) Snapshot() snmp.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) < time.Second {
		return s.cached
	}
	s.cached = s.build()
	s.at = time.Now()
	return s.cached
}

func (s *snmpSource) build() snmp.Snapshot {
	pol := s.b.Policy()
	at, status, msg := lastReload.get()
	snap := snmp.Snapshot{System: snmp.System{Version: version, Uptime: time.Since(s.started), ConfigHash: pol.Hash(),
		LastReload: at, LastReloadStatus: status, LastReloadMessage: msg}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	calls := s.b.Calls(ctx)
	cancel()
	byRealm, byTrunk := map[string]uint32{}, map[string]uint32{}
	for _, c := range calls {
		for _, l := range c.Legs {
			byRealm[l.Realm]++
			if l.Trunk != "" {
				byTrunk[l.Trunk]++
			}
		}
	}
	for _, r := range pol.Realms() {
		var transports []string
		addr := ""
		for _, l := range r.Listeners {
			transports = append(transports, l.Transport)
			if addr == "" {
				addr = l.Address
			}
		}
		snap.Realms = append(snap.Realms, snmp.Realm{Name: r.Name, Transport: strings.Join(transports, ","),
			Address: addr, ActiveCalls: byRealm[r.Name]})
	}
	down := map[string]uint32{}
	for _, st := range s.b.GatewayHealth() {
		if st.State == health.Down {
			down[st.Trunk]++
		}
	}
	for _, t := range pol.Trunks() {
		// Gateways count as up unless their health check says otherwise.
		n := uint32(len(t.Gateways))
		up := n - min(n, down[t.Name])
		asr, _ := s.m.TrunkASR(t.Name)
		snap.Trunks = append(snap.Trunks, snmp.Trunk{Name: t.Name, Up: up > 0, Gateways: n, GatewaysUp: up,
			ASR: asr, ActiveCalls: byTrunk[t.Name]})
	}
	tot := s.m.Totals()
	snap.Calls = snmp.Calls{Active: uint32(s.b.ActiveCalls()), Attempts: tot.Attempts, Answered: tot.Answered, Failed: tot.Failed}
	mm := s.e.Metrics()
	snap.Media = snmp.Media{ActiveStreams: uint32(mm.Streams), PacketsRelayed: mm.Traffic.PacketsOut,
		PacketsLost: mm.Traffic.Lost, MeanMOS: mm.MeanMOS}
	for _, p := range mm.Pools {
		snap.Capacity.PortPoolSize += uint32(p.Capacity)
		snap.Capacity.PortPoolUsed += uint32(p.InUse)
	}
	// Each call holds a port pair in the pool of each of its two realms.
	snap.Capacity.CallLimit = snap.Capacity.PortPoolSize / 2
	snap.Capacity.MaxCalls = maxCallsOf(pol)
	ov := s.ovl.state()
	snap.Capacity.Overloaded = ov.Overloaded
	snap.Capacity.ShedRate = uint32(math.Round(ov.Rate()))
	return snap
}

// startSNMP connects the subagent when the policy asks for it.
func startSNMP(addr string, src *snmpSource, log *slog.Logger) (*snmp.Agent, error) {
	if addr == "" {
		return nil, nil
	}
	return snmp.New(snmp.Config{Address: addr}, src, log.With("component", "snmp"))
}

// notifyReloadFailed sends obConfigReloadFailed when a subagent runs.
func notifyReloadFailed(a *snmp.Agent, msg string) {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.Notify(ctx, snmp.ConfigReloadFailed{Reason: firstLine(msg)})
}
