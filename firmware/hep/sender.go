package hep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// SenderConfig configures a Sender. The zero value of every field but Addr
// is its default.
type SenderConfig struct {
	// Network is "udp" or "tcp". Default "udp".
	Network string
	// Addr is the collector's host:port. Required.
	Addr string
	// QueueLen is the number of packets that may wait for the network; a
	// packet sent while all are waiting is dropped and counted. Each
	// queued packet holds one buffer of up to 64 KiB. Default 1024.
	QueueLen int
	// AgentID is put into packets whose AgentID is zero. Default 0.
	AgentID uint32
	// Password is put into packets whose Password is empty. Default none.
	Password string
	// ReconnectDelay is how long a TCP sender waits after a failed dial or
	// write before dialling again; packets sent meanwhile are dropped and
	// counted. Default 1s.
	ReconnectDelay time.Duration
	// WriteTimeout bounds one write to the collector. Default 1s.
	WriteTimeout time.Duration
	// Dial opens the connection. Default net.Dialer.DialContext with a 2s
	// timeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives connection state changes (never one line per
	// packet). Default slog.Default().
	Logger *slog.Logger
}

func (c *SenderConfig) setDefaults() error {
	switch c.Network {
	case "":
		c.Network = "udp"
	case "udp", "tcp":
	default:
		return fmt.Errorf("%w: network %q (want udp or tcp)", ErrConfig, c.Network)
	}
	if c.Addr == "" {
		return fmt.Errorf("%w: collector address is empty", ErrConfig)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: collector address %q: %w", ErrConfig, c.Addr, err)
	}
	if c.QueueLen < 0 {
		return fmt.Errorf("%w: queue length %d", ErrConfig, c.QueueLen)
	}
	if c.QueueLen == 0 {
		c.QueueLen = 1024
	}
	if c.ReconnectDelay < 0 || c.WriteTimeout < 0 {
		return fmt.Errorf("%w: negative delay", ErrConfig)
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Second
	}
	if c.Dial == nil {
		d := &net.Dialer{Timeout: 2 * time.Second}
		c.Dial = d.DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// SenderStats are the Sender's counters since it started.
type SenderStats struct {
	// Sent packets were written to the collector.
	Sent uint64
	// Dropped packets found the queue full or the sender closed.
	Dropped uint64
	// Invalid packets could not be encoded (bad addresses, too large).
	Invalid uint64
	// Failed packets were lost to a dial or write error.
	Failed uint64
	// Queued packets are waiting now.
	Queued int
}

// Sender exports HEPv3 packets to one collector without ever blocking its
// callers. Create it with NewSender; stop it with Close.
type Sender struct {
	cfg    SenderConfig
	free   chan *[]byte
	queue  chan *[]byte
	cancel context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
	log    *slog.Logger

	sent, dropped, invalid, failed atomic.Uint64
}

// NewSender validates cfg and starts the sender's goroutine. The first
// connection is opened by that goroutine, so NewSender does not wait for
// the collector.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		cfg:    cfg,
		free:   make(chan *[]byte, cfg.QueueLen),
		queue:  make(chan *[]byte, cfg.QueueLen),
		cancel: cancel,
		done:   make(chan struct{}),
		log:    cfg.Logger.With("component", "hep", "collector", cfg.Addr, "network", cfg.Network),
	}
	for range cfg.QueueLen {
		b := make([]byte, 0, 2048)
		s.free <- &b
	}
	go s.run(ctx)
	return s, nil
}

// Send encodes p and queues it for the collector. It never blocks: it
// returns false, and counts the packet, when the queue is full, the sender
// is closed or p cannot be encoded. AgentID and Password default to the
// sender's configuration.
func (s *Sender) Send(p *Packet) bool {
	if s.closed.Load() {
		s.dropped.Add(1)
		return false
	}
	var b *[]byte
	select {
	case b = <-s.free:
	default:
		s.dropped.Add(1)
		return false
	}
	agent, pass := p.AgentID, p.Password
	if agent == 0 {
		agent = s.cfg.AgentID
	}
	if pass == "" {
		pass = s.cfg.Password
	}
	q := *p
	q.AgentID, q.Password = agent, pass
	out, err := Append((*b)[:0], &q)
	if err != nil {
		s.invalid.Add(1)
		s.free <- b
		return false
	}
	*b = out
	// A free buffer guarantees room in the queue: both hold QueueLen.
	s.queue <- b
	return true
}

// Stats returns the counters.
func (s *Sender) Stats() SenderStats {
	return SenderStats{
		Sent:    s.sent.Load(),
		Dropped: s.dropped.Load(),
		Invalid: s.invalid.Load(),
		Failed:  s.failed.Load(),
		Queued:  len(s.queue),
	}
}

// Close stops the sender after writing what is queued (bounded by the
// write timeout) and closes the connection. It is safe to call more than
// once.
func (s *Sender) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		<-s.done
	})
	return nil
}

func (s *Sender) run(ctx context.Context) {
	defer close(s.done)
	var (
		conn      net.Conn
		nextDial  time.Time
		connected bool
	)
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for {
		var b *[]byte
		select {
		case b = <-s.queue:
		case <-ctx.Done():
			s.drain(conn)
			return
		}
		if conn == nil && !time.Now().Before(nextDial) {
			c, err := s.cfg.Dial(ctx, s.cfg.Network, s.cfg.Addr)
			if err != nil {
				if connected || nextDial.IsZero() {
					s.log.Warn("hep collector unreachable", "err", err)
				}
				connected = false
				nextDial = time.Now().Add(s.cfg.ReconnectDelay)
			} else {
				conn = c
				if !connected {
					s.log.Info("hep collector connected")
				}
				connected = true
			}
		}
		if conn == nil {
			s.failed.Add(1)
			s.free <- b
			continue
		}
		if err := s.write(conn, *b); err != nil {
			s.failed.Add(1)
			if s.cfg.Network == "tcp" {
				s.log.Warn("hep write failed, reconnecting", "err", err)
				_ = conn.Close()
				conn = nil
				connected = false
				nextDial = time.Now().Add(s.cfg.ReconnectDelay)
			}
		} else {
			s.sent.Add(1)
		}
		s.free <- b
	}
}

// drain writes what is queued at Close; each write is bounded by the write
// timeout and the loop by the queue length.
func (s *Sender) drain(conn net.Conn) {
	for range cap(s.queue) {
		select {
		case b := <-s.queue:
			if conn != nil && s.write(conn, *b) == nil {
				s.sent.Add(1)
			} else {
				s.failed.Add(1)
			}
			s.free <- b
		default:
			return
		}
	}
}

func (s *Sender) write(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	_, err := conn.Write(b)
	return err
}
