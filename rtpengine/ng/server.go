package ng

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server limits and timings.
const (
	// MaxDatagram is the largest command accepted; longer datagrams are
	// truncated by the read and then fail to decode.
	MaxDatagram = 65535
	// MaxCookie is the longest cookie accepted.
	MaxCookie = 256
	// ReplyCacheTTL is how long a reply is kept for retransmissions.
	ReplyCacheTTL = 30 * time.Second
	// ReplyCacheSize bounds the number of cached replies.
	ReplyCacheSize = 8192
	// CommandTimeout bounds one offer or answer in the engine.
	CommandTimeout = 10 * time.Second

	workers    = 4
	queueDepth = 256
)

// decodeLimits apply to the bencoded body of a command.
var decodeLimits = Limits{MaxSize: MaxDatagram, MaxDepth: 16, MaxItems: 4096}

// Stats counts what the Server did since it was created.
type Stats struct {
	// Received counts datagrams read.
	Received uint64
	// Replies counts replies sent (including cached ones).
	Replies uint64
	// Errors counts replies with "result" "error".
	Errors uint64
	// Retransmits counts commands answered from the reply cache or dropped
	// because the same command was still being executed.
	Retransmits uint64
	// Dropped counts datagrams without a usable cookie, or dropped because
	// the command queue was full.
	Dropped uint64
	// Panics counts commands whose handling panicked (answered with an error).
	Panics uint64
}

// Server answers ng commands read from a net.PacketConn.
type Server struct {
	eng   Engine
	log   *slog.Logger
	now   func() time.Time
	cache *replyCache

	mu      sync.Mutex
	serving bool
	closed  bool
	done    chan struct{} // closed by Close

	received, replies, errors, retransmits, dropped, panics atomic.Uint64
}

// NewServer returns a Server driving e. A nil log discards logs.
func NewServer(e Engine, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		eng:   e,
		log:   log.With("component", "ng"),
		now:   time.Now,
		cache: newReplyCache(ReplyCacheTTL, ReplyCacheSize),
		done:  make(chan struct{}),
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Received:    s.received.Load(),
		Replies:     s.replies.Load(),
		Errors:      s.errors.Load(),
		Retransmits: s.retransmits.Load(),
		Dropped:     s.dropped.Load(),
		Panics:      s.panics.Load(),
	}
}

// Close stops Serve. It is safe to call more than once and concurrently.
// It does not close the PacketConn, which belongs to the caller.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	return nil
}

type job struct {
	key    string
	cookie []byte
	body   []byte
	addr   net.Addr
}

// Serve reads commands from pc and answers them until ctx ends or Close is
// called; it then returns nil after every goroutine it started has ended.
// It returns an error when pc fails. pc is not closed. One Server serves one
// PacketConn at a time.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.serving:
		s.mu.Unlock()
		return ErrServing
	}
	s.serving = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	jobs := make(chan job, queueDepth)
	defer func() {
		close(jobs)
		cancel()
		wg.Wait()
	}()

	// Unblock the read loop when the server stops.
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-s.done:
			cancel()
		}
		_ = pc.SetReadDeadline(time.Now())
	}()

	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.run(ctx, pc, j)
			}
		}()
	}

	s.log.Info("ng control serving", "addr", pc.LocalAddr().String())
	buf := make([]byte, MaxDatagram+1)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A deadline set by someone else: clear it and keep
				// serving, unless the server stopped meanwhile.
				_ = pc.SetReadDeadline(time.Time{})
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			return fmt.Errorf("ng: read: %w", err)
		}
		s.received.Add(1)
		s.dispatch(pc, jobs, buf[:n], addr)
	}
}

// dispatch splits the cookie, consults the reply cache and queues the command.
func (s *Server) dispatch(pc net.PacketConn, jobs chan<- job, dgram []byte, addr net.Addr) {
	cookie, body, err := splitCookie(dgram)
	if err != nil {
		s.dropped.Add(1)
		s.log.Debug("ng datagram dropped", "remote", addr.String(), "err", err)
		return
	}
	key := addr.String() + " " + string(cookie)
	state, reply := s.cache.begin(key, s.now())
	switch state {
	case cacheHit:
		s.retransmits.Add(1)
		s.send(pc, reply, addr)
		return
	case cachePending:
		s.retransmits.Add(1)
		return
	}
	j := job{key: key, cookie: bytes.Clone(cookie), body: bytes.Clone(body), addr: addr}
	select {
	case jobs <- j:
	default:
		s.cache.finish(key, nil)
		s.dropped.Add(1)
		s.log.Warn("ng command queue full, command dropped", "remote", addr.String())
	}
}

// run executes one command and sends and caches its reply.
func (s *Server) run(ctx context.Context, pc net.PacketConn, j job) {
	resp := s.handleSafe(ctx, j.body)
	if r, ok := resp.Get("result"); ok && string(r.Str) == "error" {
		s.errors.Add(1)
	}
	out := make([]byte, 0, 256)
	out = append(out, j.cookie...)
	out = append(out, ' ')
	out = AppendEncode(out, resp)
	// The cache holds the reply for ReplyCacheTTL (two per call on a
	// media node): keep it at its length, not the encoder's capacity.
	s.cache.finish(j.key, bytes.Clone(out))
	s.send(pc, out, j.addr)
}

func (s *Server) handleSafe(ctx context.Context, body []byte) (resp Value) {
	defer func() {
		if r := recover(); r != nil {
			s.panics.Add(1)
			s.log.Error("ng command panicked", "panic", fmt.Sprint(r))
			resp = errorReply("internal error")
		}
	}()
	return s.handle(ctx, body)
}

func (s *Server) send(pc net.PacketConn, b []byte, addr net.Addr) {
	if _, err := pc.WriteTo(b, addr); err != nil {
		s.log.Warn("ng reply not sent", "remote", addr.String(), "err", err)
		return
	}
	s.replies.Add(1)
}

// splitCookie splits "<cookie> <body>".
func splitCookie(b []byte) (cookie, body []byte, err error) {
	i := bytes.IndexByte(b, ' ')
	switch {
	case i < 0:
		return nil, nil, fmt.Errorf("%w: no space in %d bytes", ErrNoCookie, len(b))
	case i == 0:
		return nil, nil, fmt.Errorf("%w: empty cookie", ErrNoCookie)
	case i > MaxCookie:
		return nil, nil, fmt.Errorf("%w: cookie longer than %d bytes", ErrNoCookie, MaxCookie)
	}
	for _, c := range b[:i] {
		if c < 0x21 || c > 0x7e {
			return nil, nil, fmt.Errorf("%w: cookie has byte %#x", ErrNoCookie, c)
		}
	}
	return b[:i], b[i+1:], nil
}
