package capture

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Capturer. The zero value of every field is its
// default; with no Dir, per-call captures and ring files are unavailable
// but the ring can still be written to a stream.
type Config struct {
	// Dir is the capture directory: running captures are written to
	// hidden temporary files there and renamed to <id>.pcapng when they
	// end. Created if missing. Default: none.
	Dir string
	// QueueLen bounds the records waiting for the writer. Default 8192.
	QueueLen int
	// QueueBytes bounds the payload bytes waiting for the writer.
	// Default 32 MiB.
	QueueBytes int64
	// RingOff disables the ring buffer of recent SIP. Default false.
	RingOff bool
	// RingDuration is how far back the ring reaches. Default 5 minutes.
	RingDuration time.Duration
	// RingBytes bounds the ring's memory (payloads plus a fixed overhead
	// per message). Default 64 MiB.
	RingBytes int64
	// MaxCaptures bounds the captures running at once. Default 16.
	MaxCaptures int
	// DefaultDuration caps a capture started without a duration.
	// Default 10 minutes.
	DefaultDuration time.Duration
	// MaxDuration is the longest duration a capture may ask for.
	// Default 1 hour.
	MaxDuration time.Duration
	// DefaultBytes caps the file of a capture started without a size.
	// Default 100 MiB.
	DefaultBytes int64
	// MaxBytes is the largest file size a capture may ask for.
	// Default 1 GiB.
	MaxBytes int64
	// KeepFiles is how many finished capture files the directory keeps;
	// the oldest beyond it are deleted. Default 100.
	KeepFiles int
	// KeepBytes bounds the finished files' total size; the oldest beyond
	// it are deleted. Default 2 GiB.
	KeepBytes int64
	// MaxCalls bounds the calls the Tap tracks; calls beyond it cannot be
	// selected by a filter and are counted as untracked. Default 200000.
	MaxCalls int
	// CallLinger is how long records of an ended call still match its
	// capture. Default 5 seconds.
	CallLinger time.Duration
	// RawIP writes raw IP packets instead of Ethernet frames. Default false.
	RawIP bool
	// Node names this sbcd in the files' section comments. Default the
	// host name.
	Node string
	// Logger receives capture starts and ends and write errors, never
	// one line per packet. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	for _, v := range []struct {
		name string
		val  int64
	}{
		{"queue_len", int64(c.QueueLen)}, {"queue_bytes", c.QueueBytes}, {"ring_duration", int64(c.RingDuration)},
		{"ring_bytes", c.RingBytes}, {"max_captures", int64(c.MaxCaptures)}, {"default_duration", int64(c.DefaultDuration)},
		{"max_duration", int64(c.MaxDuration)}, {"default_bytes", c.DefaultBytes}, {"max_bytes", c.MaxBytes},
		{"keep_files", int64(c.KeepFiles)}, {"keep_bytes", c.KeepBytes}, {"max_calls", int64(c.MaxCalls)},
		{"call_linger", int64(c.CallLinger)},
	} {
		if v.val < 0 {
			return fmt.Errorf("%w: %s is negative", ErrConfig, v.name)
		}
	}
	def := func(p *int64, d int64) {
		if *p == 0 {
			*p = d
		}
	}
	defInt := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	defDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	defInt(&c.QueueLen, 8192)
	def(&c.QueueBytes, 32<<20)
	defDur(&c.RingDuration, 5*time.Minute)
	def(&c.RingBytes, 64<<20)
	defInt(&c.MaxCaptures, 16)
	defDur(&c.DefaultDuration, 10*time.Minute)
	defDur(&c.MaxDuration, time.Hour)
	def(&c.DefaultBytes, 100<<20)
	def(&c.MaxBytes, 1<<30)
	defInt(&c.KeepFiles, 100)
	def(&c.KeepBytes, 2<<30)
	defInt(&c.MaxCalls, 200000)
	defDur(&c.CallLinger, 5*time.Second)
	if c.DefaultDuration > c.MaxDuration {
		return fmt.Errorf("%w: default_duration %v exceeds max_duration %v", ErrConfig, c.DefaultDuration, c.MaxDuration)
	}
	if c.DefaultBytes > c.MaxBytes {
		return fmt.Errorf("%w: default_bytes %d exceeds max_bytes %d", ErrConfig, c.DefaultBytes, c.MaxBytes)
	}
	if c.QueueBytes < MaxPayload+ringOverhead {
		return fmt.Errorf("%w: queue_bytes %d is below one maximal record (%d)", ErrConfig, c.QueueBytes, MaxPayload+ringOverhead)
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Stats are a Capturer's counters since it started.
type Stats struct {
	// Accepted records were queued for the writer.
	Accepted uint64
	// Dropped records found the queue full (by count or bytes).
	Dropped uint64
	// Invalid records had no address or a payload over MaxPayload.
	Invalid uint64
	// Written counts packets written to capture files.
	Written uint64
	// WriteErrors counts failed writes; the capture concerned ends.
	WriteErrors uint64
	// Untracked counts calls the Tap could not track (MaxCalls reached).
	Untracked uint64
	// Queued records are waiting for the writer now.
	Queued int
	// RingRecords and RingBytes are what the ring holds now.
	RingRecords int
	RingBytes   int64
	// Running is the number of captures running now.
	Running int
	// Calls is the number of calls the Tap tracks.
	Calls int
}

// Capturer owns the capture queue, the ring, the running captures and
// the goroutine that writes them. Create it with New; stop it with Close.
type Capturer struct {
	cfg    Config
	log    *slog.Logger
	ringOn bool
	tap    Tap
	pool   sync.Pool
	queue  chan *item
	ctl    chan func()
	calls  *callTable

	// filterMu serialises changes to the running captures and to the
	// call entries' capture lists.
	filterMu     sync.Mutex
	sessions     atomic.Pointer[[]*session] // running captures; nil if none
	addrSessions atomic.Pointer[[]*session] // running ByAddr captures; nil if none
	callSessions atomic.Int32

	// infoMu guards running and finished, read by List and Open.
	infoMu   sync.Mutex
	running  map[string]*session
	finished map[string]Info

	retainMu sync.Mutex // one retention pass at a time

	closed    atomic.Bool
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}

	accepted, dropped, invalid, written, writeErrors, untracked atomic.Uint64
	queuedBytes                                                 atomic.Int64
	ringRecords                                                 atomic.Int64
	ringBytes                                                   atomic.Int64

	// Owned by the goroutine.
	ring *ring
	seq  uint64

	// testBeforeItem, when set by tests, runs before each item is
	// written, in the writer's goroutine.
	testBeforeItem func()
}

// New validates cfg, prepares the capture directory (removing temporary
// files a crash left behind) and starts the writer goroutine.
func New(cfg Config) (*Capturer, error) {
	return newCapturer(cfg, nil)
}

func newCapturer(cfg Config, beforeItem func()) (*Capturer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if cfg.Dir != "" {
		if err := prepareDir(cfg.Dir); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Capturer{
		cfg:            cfg,
		log:            cfg.Logger.With("component", "capture"),
		ringOn:         !cfg.RingOff,
		queue:          make(chan *item, cfg.QueueLen),
		ctl:            make(chan func()),
		calls:          newCallTable(),
		running:        make(map[string]*session),
		finished:       make(map[string]Info),
		cancel:         cancel,
		done:           make(chan struct{}),
		testBeforeItem: beforeItem,
	}
	c.tap.c = c
	c.pool.New = func() any { return &item{buf: make([]byte, 0, 1024)} }
	c.ring = &ring{maxBytes: cfg.RingBytes, maxAge: cfg.RingDuration, release: c.release}
	go c.run(ctx)
	return c, nil
}

// Tap returns the hot-path entry point.
func (c *Capturer) Tap() *Tap { return &c.tap }

// Stats returns the counters.
func (c *Capturer) Stats() Stats {
	c.infoMu.Lock()
	running := len(c.running)
	c.infoMu.Unlock()
	return Stats{
		Accepted:    c.accepted.Load(),
		Dropped:     c.dropped.Load(),
		Invalid:     c.invalid.Load(),
		Written:     c.written.Load(),
		WriteErrors: c.writeErrors.Load(),
		Untracked:   c.untracked.Load(),
		Queued:      len(c.queue),
		RingRecords: int(c.ringRecords.Load()),
		RingBytes:   c.ringBytes.Load(),
		Running:     running,
		Calls:       c.calls.len(),
	}
}

// Close writes what is queued, ends the running captures (their files are
// kept, as if stopped) and stops the goroutine. It is safe to call more
// than once.
func (c *Capturer) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.cancel()
		<-c.done
	})
	return nil
}

func (c *Capturer) release(it *item) {
	it.caps, it.rec, it.backfill = nil, Record{}, nil
	if cap(it.buf) > 64<<10 {
		it.buf = make([]byte, 0, 1024)
	}
	c.pool.Put(it)
}

// do runs fn in the writer goroutine and waits for it.
func (c *Capturer) do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case c.ctl <- func() { fn(); close(done) }:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done // fn runs in the goroutine, which is alive: it took fn
	return nil
}

func (c *Capturer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastSweep := time.Now()
	for {
		select {
		case it := <-c.queue:
			c.handle(it)
		case fn := <-c.ctl:
			fn()
		case now := <-tick.C:
			c.expire(now)
			c.ring.evict(now)
			c.ringStats()
			if now.Sub(lastSweep) >= c.cfg.CallLinger {
				c.calls.sweep(now.Add(-c.cfg.CallLinger))
				lastSweep = now
			}
		case <-ctx.Done():
			c.drain()
			for _, s := range c.runningSessions() {
				c.finish(s, "closed")
			}
			c.ring.clear()
			c.ringStats()
			return
		}
	}
}

// drain writes what is queued; the loop is bounded by the queue's size
// because the Tap refuses records once the Capturer is closed.
func (c *Capturer) drain() {
	for range cap(c.queue) {
		select {
		case it := <-c.queue:
			c.handle(it)
		default:
			return
		}
	}
}

func (c *Capturer) ringStats() {
	c.ringRecords.Store(int64(c.ring.len()))
	c.ringBytes.Store(c.ring.bytes)
}

// handle writes one item to the captures that want it and hands it to the
// ring or back to the pool.
func (c *Capturer) handle(it *item) {
	if c.testBeforeItem != nil {
		c.testBeforeItem()
	}
	if it.backfill != nil {
		c.backfillRing(it.backfill, *it.caps)
		c.release(it)
		return
	}
	c.queuedBytes.Add(-it.bytes)
	c.seq++
	if it.caps != nil {
		for _, s := range *it.caps {
			c.writeTo(s, it)
		}
	}
	if it.addr {
		if list := c.addrSessions.Load(); list != nil {
			ra := it.rec.Remote.Addr().Unmap()
			for _, s := range *list {
				if s.filter.Prefix.Contains(ra) {
					c.writeTo(s, it)
				}
			}
		}
	}
	if it.ring {
		c.ring.push(it, time.Now())
		c.ringStats()
		return
	}
	c.release(it)
}

// backfillRing writes the ring's SIP of the call known by keys to the
// captures that have just selected it, skipping what they already have.
func (c *Capturer) backfillRing(keys []string, caps []*session) {
	for _, it := range c.ring.items[c.ring.head:] {
		if !slices.Contains(keys, it.rec.CallKey) {
			continue
		}
		c.seq++
		for _, s := range caps {
			if it.caps != nil && slices.Contains(*it.caps, s) {
				continue // written when it was queued
			}
			if it.addr && s.filter.Kind == ByAddr && s.filter.Prefix.Contains(it.rec.Remote.Addr().Unmap()) {
				continue
			}
			c.writeTo(s, it)
		}
	}
}

func (c *Capturer) writeTo(s *session, it *item) {
	if s.done || s.lastSeq == c.seq {
		return
	}
	s.lastSeq = c.seq
	if err := s.w.Write(&it.rec); err != nil {
		c.writeErrors.Add(1)
		s.err = err
		c.finish(s, "error")
		return
	}
	c.written.Add(1)
	s.packets.Add(1)
	if s.w.Bytes() >= s.maxBytes {
		c.finish(s, "size")
	}
}

// expire ends captures whose duration is over.
func (c *Capturer) expire(now time.Time) {
	for _, s := range c.runningSessions() {
		if !now.Before(s.deadline) {
			c.finish(s, "duration")
		}
	}
}

func (c *Capturer) runningSessions() []*session {
	if p := c.sessions.Load(); p != nil {
		return *p
	}
	return nil
}
