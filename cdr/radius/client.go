package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/cdr"
)

// Acct-Terminate-Cause values (RFC 2866 section 5.10) used by the client.
const (
	TerminateUserRequest        uint32 = 1
	TerminateIdleTimeout        uint32 = 4
	TerminateSessionTimeout     uint32 = 5
	TerminateAdminReset         uint32 = 6
	TerminateNASError           uint32 = 9
	TerminateServiceUnavailable uint32 = 15
	TerminateUserError          uint32 = 17
	TerminateHostRequest        uint32 = 18
)

// TerminateCause maps a record's disconnect cause to Acct-Terminate-Cause.
func TerminateCause(c cdr.Cause) uint32 {
	switch c {
	case cdr.CauseNormal, cdr.CauseCancelled, cdr.CauseTransfer:
		return TerminateUserRequest
	case cdr.CauseMediaTimeout:
		return TerminateIdleTimeout
	case cdr.CauseSessionTimeout:
		return TerminateSessionTimeout
	case cdr.CauseDrain:
		return TerminateAdminReset
	case cdr.CauseBusy, cdr.CauseNoAnswer, cdr.CauseRejected:
		return TerminateHostRequest
	case cdr.CauseFailed, cdr.CauseRerouted:
		return TerminateServiceUnavailable
	}
	return TerminateNASError
}

// SessionID is the Acct-Session-Id of a call attempt: the call id and the
// attempt number, "CALLID-ATTEMPT".
func SessionID(r *cdr.Record) string {
	id := r.CallID
	if id == "" {
		id = r.ACallID
	}
	return id + "-" + strconv.Itoa(max(r.Attempt, 1))
}

// Stats are the counters of a Client since it was created.
type Stats struct {
	Sent       uint64 // requests answered by a server
	Retried    uint64 // retransmissions (same or next server)
	Spooled    uint64 // requests written to the spool
	Dropped    uint64 // requests lost: spool full or unwritable, or unreadable spool entries
	Failed     uint64 // delivery rounds in which no server answered
	Queued     int    // requests in the memory queue now
	SpoolDepth int    // requests in the spool now
	SpoolBytes int64  // bytes in the spool now
}

// Client sends accounting requests. Its methods never block on the network
// and are safe for concurrent use.
type Client struct {
	cfg     cdr.RADIUSConfig
	log     *slog.Logger
	now     func() time.Time
	servers []*server
	cur     int // server that answered last; owned by the sender

	queue chan *event
	spool *spool
	wake  chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex // orders sequence numbers with queue and spool insertion
	seq    uint64
	closed bool

	activeMu sync.Mutex
	active   map[string]cdr.Record // answered attempts, for Interim-Update

	closeOnce sync.Once

	sent, retried, spooled, dropped, failed atomic.Uint64
}

type server struct {
	addr   string
	secret string
	conn   net.Conn
	nextID uint8
}

// New starts a client for the servers of cfg, with its spool in
// cfg.SpoolDir; events spooled by an earlier run are sent first. Close
// stops it. log may be nil.
func New(cfg cdr.RADIUSConfig, log *slog.Logger) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%w: radius.servers: required", cdr.ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sp, last, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		log:    log.With("component", "radius"),
		now:    time.Now,
		queue:  make(chan *event, cfg.QueueSize),
		spool:  sp,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		seq:    last,
		active: map[string]cdr.Record{},
	}
	for _, s := range cfg.Servers {
		c.servers = append(c.servers, &server{addr: s.Address, secret: s.Secret, nextID: uint8(os.Getpid())})
	}
	c.wg.Add(1)
	go c.run()
	if cfg.InterimInterval > 0 {
		c.wg.Add(1)
		go c.interim()
	}
	return c, nil
}

// Start queues an Accounting-Request Start for an answered call attempt.
func (c *Client) Start(rec *cdr.Record) {
	if c.cfg.InterimInterval > 0 {
		c.activeMu.Lock()
		c.active[SessionID(rec)] = *rec
		c.activeMu.Unlock()
	}
	c.enqueue(c.attributes(rec, StatusStart, rec.AnswerTime, 0))
}

// Stop queues an Accounting-Request Stop for an ended call attempt; an
// attempt that was never answered is reported with Acct-Session-Time 0.
func (c *Client) Stop(rec *cdr.Record) {
	if c.cfg.InterimInterval > 0 {
		c.activeMu.Lock()
		delete(c.active, SessionID(rec))
		c.activeMu.Unlock()
	}
	d := rec.Duration
	if d == 0 && rec.Answered() && !rec.EndTime.IsZero() {
		d = rec.EndTime.Sub(rec.AnswerTime)
	}
	c.enqueue(c.attributes(rec, StatusStop, rec.EndTime, d))
}

// Write queues a Stop for rec; it makes the client a [cdr.Sink]. It never
// blocks and returns nil: delivery problems are counted in Stats.
func (c *Client) Write(_ context.Context, rec *cdr.Record) error {
	c.Stop(rec)
	return nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	n, b := c.spool.stats()
	return Stats{
		Sent: c.sent.Load(), Retried: c.retried.Load(), Spooled: c.spooled.Load(),
		Dropped: c.dropped.Load(), Failed: c.failed.Load(),
		Queued: len(c.queue), SpoolDepth: n, SpoolBytes: b,
	}
}

// Close stops the client's goroutines and moves requests still queued to the
// spool, to be sent by the next client on the same spool directory. It
// waits at most about one Timeout for a request in flight. It is
// idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.quit)
		c.wg.Wait()
		c.drainToSpool()
		for _, s := range c.servers {
			if s.conn != nil {
				s.conn.Close()
			}
		}
	})
	return nil
}

// attributes encodes the attributes of one request, without
// Acct-Delay-Time.
func (c *Client) attributes(rec *cdr.Record, status uint32, when time.Time, sessionTime time.Duration) *event {
	if when.IsZero() {
		when = c.now()
	}
	b := make([]byte, 0, 160)
	add := func(t uint8, v []byte) {
		if len(v) == 0 {
			return
		}
		if len(v) > MaxAttributeLen {
			v = v[:MaxAttributeLen]
		}
		b, _ = appendAttribute(b, t, v) // cannot fail: length checked
	}
	add(AttrAcctStatusType, u32(status))
	add(AttrAcctSessionID, []byte(SessionID(rec)))
	user := rec.Account
	if user == "" {
		user = rec.AFromUser
	}
	add(AttrUserName, []byte(user))
	add(AttrCallingStationID, []byte(rec.AFromUser))
	called := rec.BRURIUser
	if called == "" {
		called = rec.ARURIUser
	}
	add(AttrCalledStationID, []byte(called))
	if c.cfg.NASIPAddress != "" {
		if a, err := netip.ParseAddr(c.cfg.NASIPAddress); err == nil && a.Is4() {
			v := a.As4()
			add(AttrNASIPAddress, v[:])
		}
	}
	add(AttrNASIdentifier, []byte(c.cfg.NASIdentifier))
	if status != StatusStart {
		add(AttrAcctSessionTime, u32(uint32(max(sessionTime, 0)/time.Second)))
	}
	if status == StatusStop {
		add(AttrAcctTerminateCause, u32(TerminateCause(rec.Cause)))
	}
	add(AttrEventTimestamp, u32(uint32(when.Unix())))
	return &event{when: when, attrs: b}
}

// enqueue gives the event a sequence number and puts it on the queue, or in
// the spool when the queue is full. It never waits for the network.
func (c *Client) enqueue(e *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	e.seq = c.seq
	if !c.closed {
		select {
		case c.queue <- e:
			return
		default:
		}
	}
	c.toSpool(e)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) toSpool(e *event) {
	if err := c.spool.add(e); err != nil {
		c.dropped.Add(1)
		c.log.Warn("radius accounting request dropped", "seq", e.seq, "err", err)
		return
	}
	c.spooled.Add(1)
}

// drainToSpool moves everything in the memory queue to the spool.
func (c *Client) drainToSpool() {
	for range cap(c.queue) {
		select {
		case e := <-c.queue:
			c.toSpool(e)
		default:
			return
		}
	}
}

// run is the sender: it sends the oldest event of the queue and the spool,
// one at a time, and spools what no server takes.
func (c *Client) run() {
	defer c.wg.Done()
	var pending *event
	for {
		select {
		case <-c.quit:
			if pending != nil {
				c.toSpool(pending)
			}
			return
		default:
		}
		if pending == nil {
			select {
			case pending = <-c.queue:
			default:
			}
		}
		head, ok, err := c.spool.head()
		if err != nil {
			c.dropped.Add(1)
			c.log.Error("radius spool entry unreadable; dropped", "err", err)
			continue
		}
		var e *event
		switch {
		case ok && (pending == nil || head.seq < pending.seq):
			e = head
		case pending != nil:
			e = pending
		default:
			select {
			case pending = <-c.queue:
			case <-c.wake:
			case <-c.quit:
			}
			continue
		}
		if err := c.deliver(e); err == nil {
			if e == pending {
				pending = nil
			} else {
				c.spool.remove(e.seq)
			}
			continue
		} else if errors.Is(err, ErrClosed) {
			continue // the top of the loop spools pending and returns
		}
		c.failed.Add(1)
		c.log.Warn("no radius server answered; spooling", "err", ErrNoAnswer)
		if e == pending {
			c.toSpool(pending)
			pending = nil
		}
		c.drainToSpool()
		t := time.NewTimer(c.cfg.RetryInterval)
		select {
		case <-t.C:
		case <-c.quit:
		}
		t.Stop()
	}
}

// deliver sends one event to the servers in turn, starting with the one
// that answered last, until one answers.
func (c *Client) deliver(e *event) error {
	n := len(c.servers)
	first := true
	for i := range n {
		idx := (c.cur + i) % n
		s := c.servers[idx]
		for range c.cfg.Retries + 1 {
			select {
			case <-c.quit:
				return ErrClosed
			default:
			}
			if !first {
				c.retried.Add(1)
			}
			first = false
			err := c.exchange(s, e)
			if err == nil {
				if idx != c.cur {
					c.log.Info("radius accounting moved to another server", "server", s.addr)
				}
				c.cur = idx
				c.sent.Add(1)
				return nil
			}
			c.log.Debug("radius request not answered", "server", s.addr, "err", err)
		}
	}
	return ErrNoAnswer
}

// exchange sends one Accounting-Request to s and waits for its valid
// Accounting-Response.
func (c *Client) exchange(s *server, e *event) error {
	if s.conn == nil {
		conn, err := net.Dial("udp", s.addr)
		if err != nil {
			return err
		}
		s.conn = conn
	}
	s.nextID++
	id := s.nextID
	delay := max(c.now().Sub(e.when), 0) / time.Second
	pkt := make([]byte, HeaderLen, HeaderLen+len(e.attrs)+6)
	pkt[0], pkt[1] = byte(CodeAccountingRequest), id
	pkt = append(pkt, e.attrs...)
	pkt, _ = appendAttribute(pkt, AttrAcctDelayTime, u32(uint32(min(delay, 1<<32-1))))
	if len(pkt) > MaxPacketLen {
		return fmt.Errorf("%w: packet of %d bytes", ErrTooLong, len(pkt))
	}
	pkt[2], pkt[3] = byte(len(pkt)>>8), byte(len(pkt))
	SignRequest(pkt, s.secret)
	var auth [16]byte
	copy(auth[:], pkt[4:20])
	if _, err := s.conn.Write(pkt); err != nil {
		return err
	}
	deadline := time.Now().Add(c.cfg.Timeout)
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	buf := make([]byte, MaxPacketLen)
	for range 64 { // stray or forged packets do not extend the wait
		nr, err := s.conn.Read(buf)
		if err != nil {
			return err
		}
		resp, err := Decode(buf[:nr])
		if err != nil || resp.Code != CodeAccountingResponse || resp.Identifier != id ||
			!VerifyResponse(buf[:nr], auth, s.secret) {
			continue
		}
		return nil
	}
	return ErrNoAnswer
}

// interim queues an Interim-Update for every answered call at each tick.
func (c *Client) interim() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.InterimInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		now := c.now()
		c.activeMu.Lock()
		recs := make([]cdr.Record, 0, len(c.active))
		for _, r := range c.active {
			recs = append(recs, r)
		}
		c.activeMu.Unlock()
		for i := range recs {
			c.enqueue(c.attributes(&recs[i], StatusInterimUpdate, now, now.Sub(recs[i].AnswerTime)))
		}
	}
}
