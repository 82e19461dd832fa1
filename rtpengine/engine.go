package rtpengine

import (
	"fmt"

	"github.com/openborder/openborder/rtpengine/conference"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Engine is the media plane: port pools, calls and their relays.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	pools map[string]*pool
	first *pool
	relay *relay // the epoll relay's workers; nil with the goroutine relay
	// kern is in-kernel forwarding (nil: off or unavailable); kernMode
	// is "off", "on" or "fallback".
	kern     *kernel
	kernMode string
	wg       sync.WaitGroup // readers, services, the timer, timeout callbacks
	stop     chan struct{}
	closed   atomic.Bool
	nextID   atomic.Uint64

	mu    sync.Mutex
	calls map[string]*call

	// id is the DTLS certificate of the engine.
	id identity

	// xp runs the transcoding pipelines (transcoding.go).
	xp *xpool
	// conf holds the conference rooms (conference.go).
	conf *conference.Bridge

	// digitCh carries detected digits to Config.OnDigit (dtmf.go).
	digitCh chan Digit
	dtmfc   dtmfCounters

	// released sums the counters of released endpoints (see Metrics).
	relMu    sync.Mutex
	released Traffic
	reported Traffic // the last Metrics().Traffic
}

// call is one call's media state. mu serialises control operations on the
// call (offer, answer, delete, stats); the packet path never takes it.
type call struct {
	id       string
	created  time.Time
	lastSig  atomic.Int64 // monoNow() of the last offer/answer
	timedOut atomic.Bool

	mu      sync.Mutex
	mono    map[string]*monologue
	order   []*monologue // creation order, for stats
	deleted bool
	svc     *service
	// rec is the call's recording (nil: not recorded; recording.go).
	rec *callRec
	// dtmfSuppress: in-band digits are muted where detected (dtmf.go).
	dtmfSuppress bool
	// player plays a tone or announcement (announce.go; nil: none).
	player *service
	// transcoded: an answer ever installed transcoders (stats only);
	// recPath is the main file of the latest recording (recording.go).
	transcoded bool
	recPath    string
}

// monologue is one participant (SIP tag) of a call and our endpoints
// facing it, one per m= line (nil where the stream is rejected).
type monologue struct {
	call   *call
	tag    string
	pool   *pool
	eps    []*endpoint
	other  *monologue
	origin originState
	ice    *iceCreds
	// peerUfrag is the ICE ufrag of this side's peer in its last offer;
	// a new one is an ICE restart (RFC 8839 section 4.4.1.1.1), which
	// our answer must mirror with fresh credentials of our own.
	peerUfrag  string
	iceRestart bool
	// tap is the call's capture (nil: not captured); new endpoints take it.
	tap *tapTarget
	// dtmf is the DTMF mode of this side's peer ("": no DTMF processing; dtmf.go).
	dtmf string
}

// New validates cfg, fills its defaults and starts the engine's timer.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "rtpengine"),
		pools: make(map[string]*pool, len(cfg.Interfaces)),
		stop:  make(chan struct{}),
		calls: make(map[string]*call),
	}
	if cfg.Conference.Logger == nil {
		cfg.Conference.Logger = cfg.Logger
	}
	if e.conf, err = conference.NewBridge(cfg.Conference); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	e.id = identity{cert: cert, fingerprint: "sha-256 " + certFingerprint(cert.Certificate[0])}
	if err := e.startKernel(); err != nil {
		e.conf.Close()
		return nil, err
	}
	open := udpOpener(cfg.ListenUDP)
	if cfg.Relay == RelayEpoll {
		if e.relay, err = newRelay(cfg.RelayWorkers, e.log); err != nil {
			close(e.stop)
			e.wg.Wait()
			if e.kern != nil {
				e.kern.close()
			}
			e.conf.Close()
			return nil, fmt.Errorf("media relay: %w", err)
		}
		open = openRaw
	}
	e.log.Info("media relay", "mode", string(cfg.Relay), "workers", e.relay.size())
	for _, ic := range cfg.Interfaces {
		p := newPool(ic, cfg.PortDrain, open)
		e.pools[ic.Name] = p
		if e.first == nil {
			e.first = p
		}
	}
	e.startTranscoders()
	e.startDigits()
	e.wg.Add(1)
	go e.timeoutLoop()
	return e, nil
}

// Close deletes every call (closing every socket) and stops every
// goroutine of the engine. It is idempotent.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(e.stop)
	e.mu.Lock()
	calls := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.calls = make(map[string]*call)
	e.mu.Unlock()
	for _, c := range calls {
		c.mu.Lock()
		e.releaseCall(c)
		c.mu.Unlock()
	}
	e.conf.Close()
	if e.relay != nil {
		e.relay.close()
	}
	e.wg.Wait()
	if e.kern != nil {
		e.kern.close()
	}
	return nil
}

// pool returns the named pool, or def when name is empty.
func (e *Engine) pool(name string, def *pool) (*pool, error) {
	if name == "" {
		if def != nil {
			return def, nil
		}
		return e.first, nil
	}
	p, ok := e.pools[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownInterface, name)
	}
	return p, nil
}

// lookup returns a live call.
func (e *Engine) lookup(id string) (*call, error) {
	e.mu.Lock()
	c, ok := e.calls[id]
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: call %q", ErrNotFound, id)
	}
	return c, nil
}

// lockCall returns the call id locked, creating it if create is set.
func (e *Engine) lockCall(id string, create bool) (*call, error) {
	for range 3 { // a concurrent Delete may remove the call between lookup and lock
		e.mu.Lock()
		if e.closed.Load() {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		c, ok := e.calls[id]
		if !ok {
			if !create {
				e.mu.Unlock()
				return nil, fmt.Errorf("%w: call %q", ErrNotFound, id)
			}
			c = &call{id: id, created: time.Now(), mono: make(map[string]*monologue)}
			c.lastSig.Store(monoNow())
			e.calls[id] = c
		}
		e.mu.Unlock()
		c.mu.Lock()
		if !c.deleted {
			return c, nil
		}
		c.mu.Unlock()
	}
	return nil, fmt.Errorf("%w: call %q is being deleted", ErrNotFound, id)
}

// releaseCall stops the call's service and releases all its ports.
// Called with c.mu held.
func (e *Engine) releaseCall(c *call) {
	c.deleted = true
	e.stopRecordingAsync(c)
	if c.svc != nil {
		c.svc.stop()
		c.svc = nil
	}
	if c.player != nil {
		c.player.stop()
		c.player = nil
	}
	for _, m := range c.order {
		e.releaseMonologue(m)
	}
}

func (e *Engine) releaseMonologue(m *monologue) {
	for i, ep := range m.eps {
		e.releaseEndpoint(ep)
		m.eps[i] = nil
	}
}

func (e *Engine) releaseEndpoint(ep *endpoint) {
	if ep == nil {
		return
	}
	if e.kern != nil {
		e.kern.drop(ep)
	}
	if p := ep.partner.Load(); p != nil && p != ep {
		p.partner.CompareAndSwap(ep, nil)
	}
	ep.partner.Store(nil)
	e.setXcode(ep, nil)
	if s := ep.dtls.Swap(nil); s != nil {
		_ = s.Close()
	}
	ep.pool.release(ep.pp)
	var t Traffic
	t.add(&ep.c)
	e.relMu.Lock()
	e.released.Add(t)
	e.relMu.Unlock()
}

// Delete ends a call (fromTag "") or one monologue of it and returns the
// call's statistics taken just before. Deleting a monologue that leaves
// fewer than two participants deletes the whole call. Ports go to
// draining.
func (e *Engine) Delete(callID, fromTag string) (CallStats, error) {
	c, err := e.lockCall(callID, false)
	if err != nil {
		return CallStats{}, err
	}
	defer c.mu.Unlock()
	var m *monologue
	if fromTag != "" {
		if m = c.mono[fromTag]; m == nil {
			return CallStats{}, fmt.Errorf("%w: tag %q in call %q", ErrNotFound, fromTag, callID)
		}
	}
	e.kernelYield(c) // the kernel's last counts go into the stats
	st := c.stats()
	live := 0
	for _, x := range c.order {
		if x != m {
			live++
		}
	}
	if m != nil && live >= 2 {
		e.releaseMonologue(m)
		delete(c.mono, m.tag)
		c.order = removeMono(c.order, m)
		for _, x := range c.order {
			if x.other == m {
				x.other = nil
			}
		}
		return st, nil
	}
	e.releaseCall(c)
	e.mu.Lock()
	if e.calls[callID] == c {
		delete(e.calls, callID)
	}
	e.mu.Unlock()
	e.log.Debug("call deleted", "call_id", callID, "mos", st.MOS)
	return st, nil
}

func removeMono(s []*monologue, m *monologue) []*monologue {
	out := s[:0]
	for _, x := range s {
		if x != m {
			out = append(out, x)
		}
	}
	return out
}

// Query returns a call's statistics.
func (e *Engine) Query(callID string) (CallStats, error) {
	c, err := e.lockCall(callID, false)
	if err != nil {
		return CallStats{}, err
	}
	defer c.mu.Unlock()
	return c.stats(), nil
}

// List returns up to max call IDs (all when max <= 0), sorted.
func (e *Engine) List(max int) []string {
	e.mu.Lock()
	ids := make([]string, 0, len(e.calls))
	for id := range e.calls {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	sort.Strings(ids)
	if max > 0 && len(ids) > max {
		ids = ids[:max]
	}
	return ids
}

// stats snapshots a call. Called with c.mu held.
func (c *call) stats() CallStats {
	st := CallStats{CallID: c.id, Created: c.created, Transcoded: c.transcoded, RecordingPath: c.recPath}
	worst := -1.0
	for _, m := range c.order {
		ls := LegStats{Tag: m.tag, Interface: m.pool.cfg.Name}
		legWorst := -1.0
		for _, ep := range m.eps {
			if ep == nil {
				continue
			}
			s := ep.snapshot()
			s.Codec = ep.codec
			ls.Streams = append(ls.Streams, s)
			if r, ok := streamR(ep, s); ok && (legWorst < 0 || r < legWorst) {
				legWorst = r
			}
		}
		if legWorst >= 0 {
			ls.RFactor, ls.MOS = legWorst, mosFromR(legWorst)
			if worst < 0 || legWorst < worst {
				worst = legWorst
			}
		}
		st.Legs = append(st.Legs, ls)
	}
	if worst >= 0 {
		st.RFactor, st.MOS = worst, mosFromR(worst)
	}
	return st
}
