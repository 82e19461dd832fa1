package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/openborder/openborder/policy"
)

// State is a gateway's health.
type State uint8

// Gateway states. Unknown (not probed yet, or not probed at all) counts as
// in service.
const (
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Target is one gateway to probe.
type Target struct {
	Trunk     string
	Realm     string
	Addr      netip.AddrPort
	Transport string
	Check     policy.HealthCheckConfig
}

func (t Target) key() key { return key{realm: t.Realm, addr: t.Addr} }

// key identifies a gateway: an address within a realm.
type key struct {
	realm string
	addr  netip.AddrPort
}

// Prober sends one OPTIONS to t and returns the final status code, or an
// error when none came before ctx ended or the transport failed.
type Prober func(ctx context.Context, t Target) (int, error)

// Change is a gateway changing state.
type Change struct {
	Target
	From, To State
	// Reason is the last probe's outcome ("200", "timeout", "503", ...).
	Reason string
	At     time.Time
}

// Status is a gateway's state for the admin API and metrics.
type Status struct {
	Target
	State State
	// Since is when State began (zero while Unknown).
	Since time.Time
	// LastProbe and LastResult are the latest probe and its outcome.
	LastProbe  time.Time
	LastResult string
	// RTT is the latest answered probe's round trip.
	RTT time.Duration
	// Failures and Successes are the current runs of each.
	Failures, Successes int
}

// gateway is one probed gateway's state, guarded by Monitor.mu.
type gateway struct {
	st     Status
	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc
}

// Monitor probes gateways and keeps their state. It is safe for
// concurrent use; every probing goroutine belongs to it and ends with
// Close or when Update drops its gateway.
type Monitor struct {
	probe    Prober
	onChange func(Change)
	log      *slog.Logger

	mu     sync.Mutex
	gws    map[key]*gateway
	closed bool
}

// NewMonitor returns a Monitor that probes with probe and reports state
// changes to onChange (may be nil; called without locks held, from the
// probing goroutine).
func NewMonitor(probe Prober, onChange func(Change), log *slog.Logger) *Monitor {
	if log == nil {
		log = slog.Default()
	}
	if onChange == nil {
		onChange = func(Change) {}
	}
	return &Monitor{probe: probe, onChange: onChange, log: log, gws: map[key]*gateway{}}
}

// Update makes targets the set of probed gateways: new ones start (in
// state Unknown), dropped ones stop, and ones whose settings changed keep
// their state but use the new settings from their next probe.
func (m *Monitor) Update(targets []Target) {
	want := make(map[key]Target, len(targets))
	for _, t := range targets {
		want[t.key()] = t
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	var stopped []*gateway
	for k, g := range m.gws {
		if _, ok := want[k]; !ok {
			delete(m.gws, k)
			stopped = append(stopped, g)
		}
	}
	for k, t := range want {
		if g, ok := m.gws[k]; ok {
			if g.st.Target != t {
				// Restart the loop with the new settings; keep the state.
				stopped = append(stopped, g)
				ng := m.start(t)
				ng.st = g.st
				ng.st.Target = t
				m.gws[k] = ng
			}
			continue
		}
		m.gws[k] = m.start(t)
	}
	m.mu.Unlock()
	for _, g := range stopped {
		g.halt()
	}
}

// start launches a gateway's probing loop; m.mu is held.
func (m *Monitor) start(t Target) *gateway {
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{st: Status{Target: t}, stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go m.loop(ctx, g, t)
	return g
}

func (g *gateway) halt() {
	close(g.stop)
	g.cancel()
	<-g.done
}

func (m *Monitor) loop(ctx context.Context, g *gateway, t Target) {
	defer close(g.done)
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("gateway probe panic", "err", fmt.Sprint(p), "gateway", t.Addr.String())
		}
	}()
	tick := time.NewTicker(t.Check.Interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, t.Check.Timeout)
		start := time.Now()
		code, err := m.probe(pctx, t)
		rtt := time.Since(start)
		cancel()
		select {
		case <-g.stop:
			return
		default:
		}
		m.record(g, t, code, err, rtt, start)
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
	}
}

// outcome classifies a probe: ok, and a label for logs and the API.
func outcome(code int, err error) (bool, string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return false, "timeout"
	case err != nil:
		return false, "error: " + err.Error()
	case code == 503:
		return false, "503"
	case code >= 200:
		return true, fmt.Sprint(code)
	}
	return false, fmt.Sprintf("no final answer (%d)", code)
}

// Step applies one probe outcome to a status under its thresholds and
// returns the new state; it is the whole state machine.
func Step(st *Status, ok bool, check policy.HealthCheckConfig) State {
	if ok {
		st.Successes++
		st.Failures = 0
		if st.State == Unknown || (st.State == Down && st.Successes >= check.Successes) {
			return Up
		}
		return st.State
	}
	st.Failures++
	st.Successes = 0
	if st.State != Down && st.Failures >= check.Failures {
		return Down
	}
	return st.State
}

func (m *Monitor) record(g *gateway, t Target, code int, err error, rtt time.Duration, at time.Time) {
	ok, label := outcome(code, err)
	m.mu.Lock()
	st := &g.st
	st.LastProbe, st.LastResult = at, label
	if ok {
		st.RTT = rtt
	}
	from := st.State
	to := Step(st, ok, t.Check)
	if to != from {
		st.State, st.Since = to, at
	}
	m.mu.Unlock()
	if to != from {
		ch := Change{Target: t, From: from, To: to, Reason: label, At: at}
		lvl := slog.LevelInfo
		if to == Down {
			lvl = slog.LevelWarn
		}
		m.log.Log(context.Background(), lvl, "gateway health changed", "trunk", t.Trunk, "realm", t.Realm,
			"gateway", t.Addr.String(), "from", from.String(), "to", to.String(), "probe", label)
		m.onChange(ch)
	}
}

// InService reports whether the gateway at addr in realm may carry calls:
// it is not probed, or not known to be down.
func (m *Monitor) InService(realm string, addr netip.AddrPort) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gws[key{realm: realm, addr: addr}]
	return g == nil || g.st.State != Down
}

// State returns a probed gateway's status; ok is false when it is not probed.
func (m *Monitor) State(realm string, addr netip.AddrPort) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gws[key{realm: realm, addr: addr}]
	if g == nil {
		return Status{}, false
	}
	return g.st, true
}

// Snapshot returns every probed gateway's status, by trunk then address.
func (m *Monitor) Snapshot() []Status {
	m.mu.Lock()
	out := make([]Status, 0, len(m.gws))
	for _, g := range m.gws {
		out = append(out, g.st)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int {
		if a.Trunk != b.Trunk {
			if a.Trunk < b.Trunk {
				return -1
			}
			return 1
		}
		return a.Addr.Compare(b.Addr)
	})
	return out
}

// Close stops every probe and waits for the goroutines. It is idempotent.
func (m *Monitor) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	gws := m.gws
	m.gws = map[key]*gateway{}
	m.mu.Unlock()
	for _, g := range gws {
		g.halt()
	}
}

// Targets lists the gateways of every trunk with a health check in pol.
func Targets(pol *policy.Set) []Target {
	var out []Target
	for _, t := range pol.Trunks() {
		if t.HealthCheck == nil {
			continue
		}
		for _, g := range t.Gateways {
			out = append(out, Target{Trunk: t.Name, Realm: t.Realm.Name, Addr: g.Addr, Transport: g.Transport, Check: *t.HealthCheck})
		}
	}
	return out
}
