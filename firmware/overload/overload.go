package overload

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of [Config].
const (
	DefaultInterval   = 5 * time.Second
	DefaultRaise      = 20.0
	DefaultClear      = 2.0
	DefaultClearAfter = 60 * time.Second
)

// Config sets the thresholds. The zero value of each field is its default.
type Config struct {
	// Interval is the sampling period; rates are refusals per second over
	// one interval. Default 5s; at least 1s.
	Interval time.Duration
	// Raise is the refusal rate (per second) that starts an episode.
	// Default 20.
	Raise float64
	// Clear is the rate an episode must stay below to end. Default 2; must
	// be below Raise.
	Clear float64
	// ClearAfter is how long the rate must stay below Clear before the
	// episode ends. Default 60s; at least Interval.
	ClearAfter time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Raise == 0 {
		c.Raise = DefaultRaise
	}
	if c.Clear == 0 {
		c.Clear = min(DefaultClear, c.Raise/2)
	}
	if c.ClearAfter == 0 {
		c.ClearAfter = max(DefaultClearAfter, c.Interval)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Interval < time.Second:
		return fmt.Errorf("%w: interval %v is shorter than 1s", ErrConfig, c.Interval)
	case c.Raise <= 0:
		return fmt.Errorf("%w: raise %g is not positive", ErrConfig, c.Raise)
	case c.Clear < 0 || c.Clear >= c.Raise:
		return fmt.Errorf("%w: clear %g is not in [0, raise %g)", ErrConfig, c.Clear, c.Raise)
	case c.ClearAfter < c.Interval:
		return fmt.Errorf("%w: clear_after %v is shorter than the interval %v", ErrConfig, c.ClearAfter, c.Interval)
	}
	return nil
}

// Counts are cumulative refusal counts since sbcd started.
type Counts struct {
	// Admission counts calls refused by admission control (concurrent
	// calls or call rate of a realm, trunk or account).
	Admission uint64
	// Flood counts messages dropped by the guard's rate limits.
	Flood uint64
}

// State is the detector's view after the last sample.
type State struct {
	// Overloaded is true during an episode.
	Overloaded bool
	// Since is when the current episode started (zero outside one).
	Since time.Time
	// AdmissionRate and FloodRate are refusals per second over the last
	// interval.
	AdmissionRate, FloodRate float64
	// Episodes counts episodes started since sbcd started.
	Episodes uint64
}

// Rate is the total refusal rate of the last interval.
func (s State) Rate() float64 { return s.AdmissionRate + s.FloodRate }

// Event is the start (Overloaded) or the end of an episode.
type Event struct {
	State
	// Reason says in words why: the rates and the threshold crossed.
	Reason string
}

// Detector turns samples of [Counts] into episodes. It is not safe for
// concurrent use; [Monitor] drives one from a single goroutine.
type Detector struct {
	cfg       Config
	last      Counts
	lastAt    time.Time
	calmSince time.Time // first calm sample of the current calm run (in an episode)
	primed    bool
	state     State
}

// NewDetector checks cfg (zero fields take their defaults).
func NewDetector(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg}, nil
}

// Config is the configuration in force, defaults filled.
func (d *Detector) Config() Config { return d.cfg }

// State is the state after the last sample.
func (d *Detector) State() State { return d.state }

// Observe takes the counts at now and reports an event when an episode
// starts or ends. The first sample only sets the baseline. Counters that
// went backwards (a restart of their source) count as zero refusals.
func (d *Detector) Observe(now time.Time, c Counts) (Event, bool) {
	if !d.primed {
		d.primed, d.last, d.lastAt = true, c, now
		return Event{}, false
	}
	secs := now.Sub(d.lastAt).Seconds()
	if secs <= 0 {
		return Event{}, false
	}
	d.state.AdmissionRate = float64(delta(c.Admission, d.last.Admission)) / secs
	d.state.FloodRate = float64(delta(c.Flood, d.last.Flood)) / secs
	d.last, d.lastAt = c, now
	rate := d.state.Rate()
	if !d.state.Overloaded {
		if rate < d.cfg.Raise {
			return Event{}, false
		}
		d.state.Overloaded, d.state.Since = true, now
		d.state.Episodes++
		d.calmSince = time.Time{}
		return Event{State: d.state, Reason: fmt.Sprintf("shedding load: admission control refuses %.1f calls/s, rate limits drop %.1f messages/s (threshold %g/s)",
			d.state.AdmissionRate, d.state.FloodRate, d.cfg.Raise)}, true
	}
	if rate >= d.cfg.Clear {
		d.calmSince = time.Time{}
		return Event{}, false
	}
	if d.calmSince.IsZero() {
		// The calm run started when the interval that was calm started.
		d.calmSince = now.Add(-time.Duration(secs * float64(time.Second)))
	}
	if now.Sub(d.calmSince) < d.cfg.ClearAfter {
		return Event{}, false
	}
	lasted := now.Sub(d.state.Since).Round(time.Second)
	d.state.Overloaded, d.state.Since = false, time.Time{}
	d.calmSince = time.Time{}
	return Event{State: d.state, Reason: fmt.Sprintf("load shedding ended after %v: refusals below %g/s for %v",
		lasted, d.cfg.Clear, d.cfg.ClearAfter)}, true
}

func delta(now, before uint64) uint64 {
	if now < before {
		return 0
	}
	return now - before
}

// Monitor samples counts every interval and reports episodes.
type Monitor struct {
	det    *Detector
	read   func() Counts
	notify func(Event)
	now    func() time.Time

	mu    sync.Mutex
	state State
}

// NewMonitor builds a monitor that calls read once per interval and
// notify (from the Run goroutine) at the start and end of each episode.
func NewMonitor(cfg Config, read func() Counts, notify func(Event)) (*Monitor, error) {
	d, err := NewDetector(cfg)
	if err != nil {
		return nil, err
	}
	return &Monitor{det: d, read: read, notify: notify, now: time.Now}, nil
}

// State is the state after the last sample; safe for concurrent use.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Run samples until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.det.Config().Interval)
	defer t.Stop()
	m.det.Observe(m.now(), m.read())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ev, ok := m.det.Observe(m.now(), m.read())
		m.mu.Lock()
		m.state = m.det.State()
		m.mu.Unlock()
		if ok && m.notify != nil {
			m.notify(ev)
		}
	}
}
