package snmp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Agent is an AgentX subagent serving OPENBORDER-MIB from a Source. It is
// safe for concurrent use.
type Agent struct {
	cfg     Config
	network string
	addr    string
	src     Source
	log     *slog.Logger

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	sess atomic.Pointer[session]

	sessions     atomic.Uint64
	requests     atomic.Uint64
	parseErrors  atomic.Uint64
	notifySent   atomic.Uint64
	notifyFailed atomic.Uint64
}

// Stats are the agent's counters since New.
type Stats struct {
	Sessions     uint64 // AgentX sessions opened and registered
	Requests     uint64 // Get, GetNext and GetBulk PDUs answered
	ParseErrors  uint64 // PDUs from the master that could not be decoded
	NotifySent   uint64 // notifications accepted by the master
	NotifyFailed uint64 // notifications not delivered to the master
}

// New validates cfg and starts the agent: it connects to the master in
// the background and keeps reconnecting until Close. log may be nil.
func New(cfg Config, src Source, log *slog.Logger) (*Agent, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil source", ErrConfig)
	}
	cfg = cfg.withDefaults()
	network, addr, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:     cfg,
		network: network,
		addr:    addr,
		src:     src,
		log:     log.With("component", "snmp", "agentx", cfg.Address),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go a.run()
	return a, nil
}

// Close closes the AgentX session (telling the master) and stops the
// agent's goroutines. It is idempotent and always returns nil.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.cancel()
		<-a.done
	})
	return nil
}

// Connected reports whether a registered session with the master is open.
func (a *Agent) Connected() bool { return a.sess.Load() != nil }

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	return Stats{
		Sessions:     a.sessions.Load(),
		Requests:     a.requests.Load(),
		ParseErrors:  a.parseErrors.Load(),
		NotifySent:   a.notifySent.Load(),
		NotifyFailed: a.notifyFailed.Load(),
	}
}

// Notify sends t to the master agent, which forwards it to its trap and
// inform sinks, and waits for the master's acknowledgement (bounded by
// ctx and the configured Timeout). A notification raised while no session
// is open is not queued: Notify returns ErrNotConnected.
func (a *Agent) Notify(ctx context.Context, t Trap) error {
	err := a.notify(ctx, t)
	if err != nil {
		a.notifyFailed.Add(1)
		return err
	}
	a.notifySent.Add(1)
	return nil
}

func (a *Agent) notify(ctx context.Context, t Trap) error {
	if t == nil {
		return fmt.Errorf("%w: nil trap", ErrMalformed)
	}
	if a.ctx.Err() != nil {
		return ErrClosed
	}
	var snap Snapshot
	if needsSnapshot(t) {
		var err error
		if snap, err = a.snapshot(); err != nil {
			return err
		}
	}
	trapOID, vbs, err := t.notification(&snap)
	if err != nil {
		return err
	}
	s := a.sess.Load()
	if s == nil {
		return ErrNotConnected
	}
	all := make([]VarBind, 0, 1+len(vbs))
	all = append(all, VarBind{Name: oidSnmpTrapOID, Type: TypeOID, Value: trapOID})
	all = append(all, vbs...)
	resp, err := s.request(ctx, &PDU{Header: Header{Type: PDUNotify}, VarBinds: all})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if resp.Error != ErrCodeNone {
		return fmt.Errorf("%w: notify: error %d", ErrMasterRefused, resp.Error)
	}
	return nil
}

// snapshot calls the Source, turning a panic into ErrSource.
func (a *Agent) snapshot() (snap Snapshot, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrSource, r)
		}
	}()
	return a.src.Snapshot(), nil
}

// run owns the connection: connect, serve, and reconnect with backoff.
func (a *Agent) run() {
	defer close(a.done)
	backoff := a.cfg.MinBackoff
	failing := false
	for {
		established, err := a.serveOnce()
		if a.ctx.Err() != nil {
			return
		}
		if established {
			backoff = a.cfg.MinBackoff
			failing = false
		}
		if !failing {
			a.log.Warn("agentx session lost; reconnecting", "err", err)
			failing = true
		} else {
			a.log.Debug("agentx connect failed", "err", err, "retry_in", backoff)
		}
		// ±20% jitter so that many subagents do not reconnect in step.
		d := backoff + time.Duration((rand.Float64()*0.4-0.2)*float64(backoff))
		t := time.NewTimer(d)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
}

// serveOnce runs one session: connect, Open, Register, then serve and
// ping until the connection fails or the agent closes. established tells
// whether the session got as far as a registration.
func (a *Agent) serveOnce() (established bool, err error) {
	dctx, cancel := context.WithTimeout(a.ctx, a.cfg.Timeout)
	conn, err := (&net.Dialer{}).DialContext(dctx, a.network, a.addr)
	cancel()
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	s := &session{agent: a, conn: conn, pending: map[uint32]chan *PDU{}, readDone: make(chan struct{})}
	go s.readLoop()
	defer func() {
		a.sess.CompareAndSwap(s, nil)
		conn.Close()
		<-s.readDone
	}()

	resp, err := s.request(a.ctx, &PDU{
		Header:  Header{Type: PDUOpen},
		Timeout: uint8(a.cfg.Timeout / time.Second),
		ID:      Subtree,
		Descr:   []byte(a.cfg.Description),
	})
	if err != nil {
		return false, fmt.Errorf("open: %w", err)
	}
	if resp.Error != ErrCodeNone {
		return false, fmt.Errorf("%w: open: error %d", ErrMasterRefused, resp.Error)
	}
	s.id.Store(resp.SessionID)

	resp, err = s.request(a.ctx, &PDU{
		Header:   Header{Type: PDURegister},
		Timeout:  uint8(a.cfg.Timeout / time.Second),
		Priority: a.cfg.Priority,
		Subtree:  Subtree,
	})
	if err != nil {
		return false, fmt.Errorf("register: %w", err)
	}
	if resp.Error != ErrCodeNone {
		return false, fmt.Errorf("%w: register %s: error %d", ErrMasterRefused, Subtree, resp.Error)
	}
	a.sess.Store(s)
	a.sessions.Add(1)
	a.log.Info("agentx session open", "session_id", resp.SessionID, "subtree", Subtree.String())

	var tick <-chan time.Time
	if a.cfg.PingInterval > 0 {
		t := time.NewTicker(a.cfg.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-a.ctx.Done():
			a.sess.CompareAndSwap(s, nil)
			s.sendClose(CloseShutdown)
			a.log.Info("agentx session closed")
			return true, ErrClosed
		case <-s.readDone:
			return true, s.readErr()
		case <-tick:
			resp, err := s.request(a.ctx, &PDU{Header: Header{Type: PDUPing}})
			if err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
			if resp.Error != ErrCodeNone {
				return true, fmt.Errorf("%w: ping: error %d", ErrMasterRefused, resp.Error)
			}
		}
	}
}

// session is one connection to the master.
type session struct {
	agent *Agent
	conn  net.Conn
	id    atomic.Uint32

	wmu sync.Mutex // serialises writes to conn

	pmu        sync.Mutex
	pending    map[uint32]chan *PDU
	nextPacket uint32

	readDone chan struct{}
	errMu    sync.Mutex
	err      error
}

func (s *session) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *session) readErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// write encodes and sends p; a failed write closes the connection so that
// the reader, and with it the session, ends.
func (s *session) write(p *PDU) error {
	b, err := p.Encode(nil)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.agent.cfg.Timeout))
	if _, err := s.conn.Write(b); err != nil {
		s.setErr(fmt.Errorf("write: %w", err))
		s.conn.Close()
		return err
	}
	return nil
}

// request sends a subagent-initiated PDU and waits for its Response.
func (s *session) request(ctx context.Context, p *PDU) (*PDU, error) {
	ch := make(chan *PDU, 1)
	s.pmu.Lock()
	s.nextPacket++
	id := s.nextPacket
	s.pending[id] = ch
	s.pmu.Unlock()
	defer func() {
		s.pmu.Lock()
		delete(s.pending, id)
		s.pmu.Unlock()
	}()

	p.Flags |= FlagNetworkByteOrder
	p.SessionID = s.id.Load()
	p.TransactionID = id
	p.PacketID = id
	if err := s.write(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	t := time.NewTimer(s.agent.cfg.Timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return nil, ErrTimeout
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.readDone:
		return nil, ErrNotConnected
	}
}

// sendClose tells the master the session ends; best effort.
func (s *session) sendClose(reason uint8) {
	_ = s.write(&PDU{
		Header: Header{Type: PDUClose, Flags: FlagNetworkByteOrder, SessionID: s.id.Load()},
		Reason: reason,
	})
}

// readLoop reads PDUs until the connection fails and handles each one.
func (s *session) readLoop() {
	defer close(s.readDone)
	defer func() {
		if r := recover(); r != nil {
			s.agent.log.Error("agentx reader panic", "err", fmt.Errorf("%v", r))
			s.setErr(fmt.Errorf("%w: reader panic: %v", ErrMalformed, r))
		}
	}()
	br := bufio.NewReader(s.conn)
	var hb [headerLen]byte
	for {
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			s.setErr(fmt.Errorf("read: %w", err))
			return
		}
		h, n, err := DecodeHeader(hb[:])
		if err != nil {
			// The stream cannot be resynchronised: end the session.
			s.agent.parseErrors.Add(1)
			s.setErr(err)
			s.sendClose(CloseParseError)
			return
		}
		buf := make([]byte, headerLen+n)
		copy(buf, hb[:])
		if _, err := io.ReadFull(br, buf[headerLen:]); err != nil {
			s.setErr(fmt.Errorf("read: %w", err))
			return
		}
		p, _, err := DecodePDU(buf)
		if err != nil {
			s.agent.parseErrors.Add(1)
			s.agent.log.Debug("agentx pdu not decoded", "err", err, "pdu", h.Type.String())
			if h.Type != PDUResponse {
				s.respond(h, ErrCodeParseError, 0, nil)
			}
			continue
		}
		if p.Type == PDUClose {
			s.setErr(fmt.Errorf("%w: reason %d", ErrClosedByMaster, p.Reason))
			return
		}
		s.handle(p)
	}
}

// respond answers a master request.
func (s *session) respond(h Header, code, index uint16, vbs []VarBind) {
	_ = s.write(&PDU{
		Header: Header{
			Type:          PDUResponse,
			Flags:         h.Flags & FlagNetworkByteOrder,
			SessionID:     h.SessionID,
			TransactionID: h.TransactionID,
			PacketID:      h.PacketID,
		},
		Error:    code,
		Index:    index,
		VarBinds: vbs,
	})
}

// handle dispatches one decoded PDU from the master.
func (s *session) handle(p *PDU) {
	switch p.Type {
	case PDUResponse:
		s.pmu.Lock()
		ch := s.pending[p.PacketID]
		s.pmu.Unlock()
		if ch != nil {
			select {
			case ch <- p:
			default:
			}
		}
	case PDUGet, PDUGetNext, PDUGetBulk:
		s.agent.requests.Add(1)
		code, index, vbs := s.agent.answer(p)
		s.respond(p.Header, code, index, vbs)
	case PDUTestSet:
		// The MIB is read-only.
		s.respond(p.Header, ErrCodeNotWritable, 1, p.VarBinds)
	case PDUCommitSet:
		s.respond(p.Header, 14, 0, nil) // commitFailed; no TestSet succeeded
	case PDUUndoSet:
		s.respond(p.Header, 15, 0, nil) // undoFailed
	case PDUCleanupSet:
		// No response (RFC 2741 section 7.2.4.4).
	case PDUPing:
		s.respond(p.Header, ErrCodeNone, 0, nil)
	default:
		s.respond(p.Header, ErrCodeProcessingError, 0, nil)
	}
}

// answer computes the response to a Get, GetNext or GetBulk.
func (a *Agent) answer(p *PDU) (code, index uint16, vbs []VarBind) {
	if p.Flags&FlagNonDefaultContext != 0 {
		return ErrCodeUnsupportedContext, 0, nil
	}
	snap, err := a.snapshot()
	if err != nil {
		a.log.Error("snapshot failed", "err", err)
		return ErrCodeGenErr, 1, nil
	}
	v := buildView(&snap)
	switch p.Type {
	case PDUGet:
		vbs = make([]VarBind, len(p.Ranges))
		for i, r := range p.Ranges {
			vbs[i] = v.get(r.Start)
		}
	case PDUGetNext:
		vbs = make([]VarBind, len(p.Ranges))
		for i, r := range p.Ranges {
			vbs[i] = v.next(r)
		}
	case PDUGetBulk:
		vbs = v.bulk(int(p.NonRepeaters), int(p.MaxRepetitions), p.Ranges)
	}
	return ErrCodeNone, 0, vbs
}
