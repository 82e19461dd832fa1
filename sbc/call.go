package sbc

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// Events a call's actor applies one at a time.
type (
	evStart   struct{}
	evRequest struct {
		side Side
		req  *sip.Request
		tx   *serverTx
	}
	evResponse struct {
		side Side
		res  *sip.Response
	}
	evTxDone struct {
		side   Side
		callID string
		seq    uint32
		method sip.RequestMethod
		err    error
	}
	evCancel struct{}
	evHangup struct{ cause string }
	evTimer  struct {
		kind timerKind
		side Side
		gen  uint64
	}
	evFlush struct{ side Side }
	// evInviteDelivered: sipgo's transaction of an INVITE sbcd sent has
	// handed up its 2xx, so sipgo is done reading that response.
	evInviteDelivered struct {
		side   Side
		callID string
	}
)

type callState int

// retrans retransmits a 2xx on an unreliable transport until the ACK
// (RFC 3261 13.3.1.4).
type retrans struct {
	res      *sip.Response
	conn     sip.Connection
	interval time.Duration
	giveUp   time.Time
}

const (
	stateSetup     callState = iota // INVITE received, no final response yet
	stateAnswered                   // 2xx sent to A, waiting for ACK
	stateConfirmed                  // dialog confirmed on both legs
	stateEnding                     // cancelled or failed, waiting for leg B to settle
	stateEnded
)

// pending is an in-dialog request sbcd sent on one leg on behalf of a
// request received on the other (or on its own: origin nil).
type pending struct {
	method sip.RequestMethod
	origin *evRequest
	// withSDP tells whether sbcd's request carried an offer.
	withSDP bool
	// refresh marks session-timer refreshes sbcd originated.
	refresh bool
}

// call owns both legs of one call. Events are applied by whichever
// goroutine finds the mailbox idle; no goroutine waits per call.
type call struct {
	id  string
	b   *B2BUA
	pol *policy.Set
	log *slog.Logger

	// method is INVITE for calls, else the method of a relayed non-INVITE
	// transaction or subscription.
	method sip.RequestMethod
	legs   [2]*leg
	state  callState

	mu    sync.Mutex
	queue []any
	// running is set while a goroutine drains the queue (under mu); the
	// other flags belong to the actor: provisonal, a provisional response
	// arrived on the current B attempt; reinvite, a re-INVITE is in
	// progress; routed, the route is known (and logged); hold, the call
	// is on hold.
	running, provisonal, reinvite, routed, hold bool

	// setup
	route   string
	targets []target
	// failover is the route's failover settings; callerOut the From user
	// after the route's number translation.
	failover  *policy.Failover
	callerOut string
	attempt   int
	offerA    []byte // the caller's SDP offer (nil: late offer)
	// earlyAnswer is the answer sbcd relayed to the caller in an 18x
	// (dropped once the call is answered).
	earlyAnswer []byte
	profile     MediaProfile
	// abandoned are earlier B attempts by Call-ID (nil until a failover).
	abandoned map[string]*leg
	service   string

	// ok is the 2xx retransmission per leg (sbcd as UAS of that leg's
	// INVITE), from the 2xx until the ACK.
	ok [2]*retrans
	// deferredAck is the CSeq of an ACK owed to a leg whose 2xx carried an
	// offer, until the answer arrives in the other leg's ACK.
	deferredAck [2]uint32
	// setup2xx are the 2xx that answered the call's INVITE on each leg
	// (sent on A, received on B), kept until the dialog is confirmed.
	setup2xx [2]*sip.Response
	// bDelivered: the B leg's INVITE transaction has handed up its 2xx
	// (evInviteDelivered); until then the INVITE and the 2xx it answered
	// with are read by sipgo's goroutines and wait in stripLater.
	bDelivered bool
	stripLater []strippable
	// lastAck is the last ACK sbcd sent on each leg, kept as what it takes
	// to send it again (not as a message).
	lastAck [2]sentAck

	// xfer is a transfer (REFER) in progress.
	xfer *transfer

	// inFlight and held are created on first use: most calls never
	// relay an in-dialog request.
	inFlight [2]map[uint32]*pending
	held     [2]map[uint32]evRequest

	// timers are the call's armed timers (a handful at most).
	timerGen uint64
	timers   []callTimer

	start, ringing, answered time.Time
	cause                    string
	status                   int
	// reason is the label of sbcd's own rejection, if any.
	reason string
	// callerIn/calleeIn are the caller's From and R-URI users as received.
	callerIn, calleeIn string
	attempts           []Attempt

	// srcTrunk is the trunk the caller's INVITE came from (nil: none).
	srcTrunk *policy.Trunk
	// adm is what the call holds from admission control and fraud rules.
	adm admission
	// preemptible names the trunk of an ordinary call that an emergency
	// call may end to make room (read by other calls' actors).
	preemptible atomic.Value
	// dsp is the call's DTMF and tone state (dtmf.go; nil until used).
	dsp *callDSP
}

func newCall(b *B2BUA, pol *policy.Set) *call {
	c := &call{
		id:     b.newID(),
		method: sip.INVITE,
		b:      b,
		pol:    pol,
		start:  time.Now(),
	}
	c.log = slog.New(&callHandler{c: c, next: b.log.Handler()})
	return c
}

// pendingOn returns the in-flight requests of a side, creating the map.
func (c *call) pendingOn(s Side) map[uint32]*pending {
	if c.inFlight[s] == nil {
		c.inFlight[s] = make(map[uint32]*pending)
	}
	return c.inFlight[s]
}

// post queues an event; if the actor is idle, a goroutine drains the queue.
func (c *call) post(ev any) {
	c.mu.Lock()
	c.queue = append(c.queue, ev)
	if c.running {
		c.mu.Unlock()
		return
	}
	c.running = true
	c.mu.Unlock()
	go c.drain()
}

func (c *call) drain() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		ev := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.apply(ev)
	}
}

func (c *call) apply(ev any) {
	defer func() {
		if p := recover(); p != nil {
			c.b.panics.Add(1)
			c.log.Error("call actor panic", "err", p)
			c.teardown("internal_error", 500)
		}
	}()
	if q, ok := ev.(evInfo); ok {
		q.reply <- c.info()
		return
	}
	if c.state == stateEnded {
		if r, ok := ev.(evRequest); ok && r.tx != nil && !r.req.IsAck() {
			_ = r.tx.Respond(newResponse(r.req, 481))
		}
		return
	}
	switch e := ev.(type) {
	case evStart:
		c.setup()
	case evRequest:
		c.onRequest(e)
	case evResponse:
		c.onResponse(e)
	case evTxDone:
		c.onTxDone(e)
	case evCancel:
		c.onCancel()
	case evHangup:
		c.hangup(e.cause)
	case evTimer:
		c.onTimer(e)
	case evFlush:
		c.flushHeld(e.side, true)
	case evInviteDelivered:
		c.onInviteDelivered(e)
	case evDigit:
		c.onDigit(e.d)
	case evPlayDone:
		c.onPlayDone(e)
	}
}

// onRequest applies a request from a leg in CSeq order: requests within a
// dialog carry contiguous CSeq numbers (RFC 3261 12.2.1.1), so a gap means
// an earlier request is still on its way through the transaction layer.
func (c *call) onRequest(e evRequest) {
	if e.req.IsAck() {
		if e.tx != nil {
			e.tx.Terminate()
		}
		c.onAck(e)
		return
	}
	l := c.legs[e.side]
	seq := e.req.CSeq().SeqNo
	switch {
	case l.remoteCSeq == 0 || seq == l.remoteCSeq+1:
		l.remoteCSeq = seq
		c.inDialog(e)
		c.flushHeld(e.side, false)
	case seq > l.remoteCSeq+1:
		if c.held[e.side] == nil {
			c.held[e.side] = make(map[uint32]evRequest)
		}
		c.held[e.side][seq] = e
		c.after(timerFlush, e.side, 30*time.Millisecond)
	default:
		_ = e.tx.Respond(l.respond(e.req, 500, nil, ""))
	}
}

// flushHeld applies held requests that are next in order; force applies
// them all in order (the gap did not fill in time).
func (c *call) flushHeld(side Side, force bool) {
	h := c.held[side]
	for len(h) > 0 && c.state != stateEnded {
		l := c.legs[side]
		next, ok := h[l.remoteCSeq+1]
		if !ok {
			if !force {
				return
			}
			seqs := make([]uint32, 0, len(h))
			for s := range h {
				seqs = append(seqs, s)
			}
			sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
			next = h[seqs[0]]
		}
		seq := next.req.CSeq().SeqNo
		delete(h, seq)
		l.remoteCSeq = seq
		c.inDialog(next)
	}
}

// established drops what only the call's setup needed once the dialog is
// confirmed on both legs: the setup messages and their transactions, the
// remaining failover targets, the early answer, and the B leg's index by
// its INVITE's Via branch (it only caught that INVITE looping back).
// What the call keeps is what in-dialog requests, refreshes, BYE, the
// call record and the admin API read: the legs' dialog fields and last
// SDP bodies.
func (c *call) established() {
	// sipgo keeps a terminated INVITE transaction, with its request and
	// final response, in its timer heap until Timer L (server) or M
	// (client) fires, 64*T1 after the 2xx: empty those messages so only
	// the transactions' small structs wait for the timers.
	if a := c.legs[SideA]; a != nil && a.invite != nil {
		strip(a.invite)
	}
	// The B leg's INVITE and its 2xx are sipgo's to read until its
	// transaction has handed the 2xx up (the ordered hook gives it to the
	// call first, on another goroutine): they are emptied then.
	if b := c.legs[SideB]; b != nil && b.out != nil {
		c.stripAfterDelivery(b.out)
	}
	if res := c.setup2xx[SideA]; res != nil {
		strip(res)
	}
	if res := c.setup2xx[SideB]; res != nil {
		c.stripAfterDelivery(res)
	}
	c.setup2xx = [2]*sip.Response{}
	for _, l := range c.legs {
		if l == nil {
			continue
		}
		l.release()
		for i, k := range l.keys {
			if isBranchKey(k) {
				c.b.calls.unbind(k)
				l.keys = append(l.keys[:i:i], l.keys[i+1:]...)
				break
			}
		}
	}
	c.targets = nil
	c.earlyAnswer = nil
}

// strippable is a message strip can empty.
type strippable interface {
	sip.Message
	Headers() []sip.Header
	RemoveHeader(name string) bool
	PrependHeader(...sip.Header)
}

// stripAfterDelivery empties m now if sipgo has handed up the B leg's 2xx,
// else when it does (onInviteDelivered).
func (c *call) stripAfterDelivery(m strippable) {
	if c.bDelivered {
		strip(m)
		return
	}
	c.stripLater = append(c.stripLater, m)
}

// onInviteDelivered records that sipgo is done with the current B leg's
// INVITE transaction's 2xx and empties what waited for it.
func (c *call) onInviteDelivered(e evInviteDelivered) {
	b := c.legs[SideB]
	if e.side != SideB || b == nil || b.callID != e.callID {
		return
	}
	c.bDelivered = true
	for _, m := range c.stripLater {
		strip(m)
	}
	c.stripLater = nil
}

// strip empties a message nothing but a finished transaction refers to:
// no headers, no body. The start line stays (sipgo may still read the
// status code of a response).
func strip(m strippable) {
	m.SetBody(nil)
	for hs := m.Headers(); len(hs) > 0; hs = m.Headers() {
		m.RemoveHeader(hs[0].Name())
	}
	// Removing leaves the removed headers in the list's array: replace it.
	m.PrependHeader()
}

// teardown ends the call on both legs: BYE to every confirmed leg, media
// released, one "call ended" record.
func (c *call) teardown(cause string, status int) {
	if c.state == stateEnded {
		return
	}
	for s := SideA; s <= SideB && c.method == sip.INVITE; s++ {
		l := c.legs[s]
		if l == nil || !l.confirmed {
			continue
		}
		req := l.request(sip.BYE, nil, "")
		if c.adm.byeReason != "" {
			req.AppendHeader(sip.NewHeader("Reason", c.adm.byeReason))
		}
		if err := l.send(c, req); err != nil {
			c.log.Warn("BYE failed", "leg", s.String(), "err", err)
		}
	}
	c.finish(cause, status)
}

// finish releases the call without sending anything.
func (c *call) finish(cause string, status int) {
	if c.state == stateEnded {
		return
	}
	c.state = stateEnded
	c.stopAll()
	c.adm.release()
	c.preemptible.Store("")
	if c.cause == "" {
		c.cause = cause
	}
	if c.status == 0 {
		c.status = status
	}
	var keys []string
	for _, l := range c.legs {
		if l != nil {
			keys = append(keys, l.keys...)
		}
	}
	for _, l := range c.abandoned {
		keys = append(keys, l.keys...)
	}
	st := c.b.media.Delete(c.id)
	rec := c.record(st)
	rec.End = time.Now()
	c.b.recordQuality(rec)
	c.b.obs.CallEnded(rec)
	c.b.calls.remove(c, keys)
	var dur time.Duration
	if !c.answered.IsZero() {
		dur = time.Since(c.answered)
	}
	attrs := []any{
		"cause", c.cause,
		"status", c.status,
		"duration_ms", dur.Milliseconds(),
		"setup_ms", c.setupTime().Milliseconds(),
		"a_rtp_in", st.RTPIn[SideA],
		"b_rtp_in", st.RTPIn[SideB],
		"mos", st.MOS,
	}
	if c.reason != "" {
		attrs = append(attrs, "reason", c.reason)
	}
	c.log.Info("call ended", attrs...)
}

// record describes the ended call for observers.
func (c *call) record(st MediaStats) *CallRecord {
	rec := &CallRecord{
		ID: c.id, Method: string(c.method), Route: c.route,
		CallerIn: c.callerIn, CalleeIn: c.calleeIn,
		Start: c.start, Ringing: c.ringing, Answered: c.answered,
		Cause: c.cause, Reason: c.reason, Status: c.status, Account: c.adm.account,
		Attempts: append([]Attempt(nil), c.attempts...), Media: st, Digits: c.digitsOf(),
	}
	if a := c.legs[SideA]; a != nil {
		rec.ACallID, rec.ARealm = a.callID, a.realm.name
	}
	if n := len(rec.Attempts); n > 0 {
		if rec.Attempts[n-1].Status == 0 {
			rec.Attempts[n-1].Status = c.status
		}
		rec.Gateway = rec.Attempts[n-1].Gateway
	}
	if b := c.legs[SideB]; b != nil {
		rec.BCallID, rec.BRealm = b.callID, b.realm.name
		if b.trunk != nil {
			rec.Trunk = b.trunk.Name
		}
		rec.CalleeOut, rec.CallerOut = b.calleeOut, b.callerOut
	}
	return rec
}

func (c *call) setupTime() time.Duration {
	if c.answered.IsZero() {
		return 0
	}
	return c.answered.Sub(c.start)
}

// hangup ends the call from sbcd's side (drain, media timeout, shutdown,
// pre-emption).
func (c *call) hangup(cause string) {
	if cause == "preempted" {
		c.adm.byeReason = preemptReason
	}
	switch c.state {
	case stateSetup:
		a := c.legs[SideA]
		if a != nil && a.inviteTx != nil {
			_ = a.inviteTx.Respond(a.respond(a.invite, 503, nil, ""))
		}
		c.cancelAttempt()
		c.finish(cause, 503)
	default:
		c.teardown(cause, c.status)
	}
}

// mediaCtx bounds calls into the media plane.
func mediaCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
