package sbc

import (
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"
)

// relayedHeaders are method-specific headers that carry meaning end to end
// (not topology) and cross with in-dialog requests.
var relayedHeaders = map[sip.RequestMethod][]string{
	sip.INFO:      {"Info-Package", "Recv-Info"},
	sip.NOTIFY:    {"Event", "Subscription-State"},
	sip.SUBSCRIBE: {"Event", "Expires", "Accept"},
	sip.MESSAGE:   {"Expires"},
}

// inDialog applies a request received within a dialog, in CSeq order.
func (c *call) inDialog(e evRequest) {
	x := c.legs[e.side]
	req := e.req
	switch req.Method {
	case sip.BYE:
		_ = e.tx.Respond(x.respond(req, 200, nil, ""))
		x.confirmed = false
		cause := "caller_bye"
		if e.side == SideB {
			cause = "callee_bye"
		}
		if c.state == stateSetup {
			// BYE on an early dialog of B: the attempt is over.
			c.fail(reject(480, "failed", nil))
			return
		}
		c.teardown(cause, c.status)
	case sip.PRACK:
		// 100rel is terminated per leg.
		_ = e.tx.Respond(x.respond(req, 200, nil, ""))
	case sip.REFER:
		c.refer(e)
	default:
		if c.service != "" {
			c.serviceRequest(e)
			return
		}
		if req.Method == sip.INVITE || req.Method == sip.UPDATE {
			c.offer(e)
			return
		}
		if c.trickleInfo(e) || c.dtmfInfo(e) {
			return
		}
		c.relay(e)
	}
}

// offer relays a re-INVITE or UPDATE, re-anchoring its SDP.
func (c *call) offer(e evRequest) {
	x, y := c.legs[e.side], c.legs[e.side.Other()]
	req := e.req
	if y == nil || !y.confirmed || c.state == stateSetup {
		_ = e.tx.Respond(x.respond(req, 491, nil, ""))
		return
	}
	if req.Method == sip.INVITE && c.reinvite {
		_ = e.tx.Respond(x.respond(req, 491, nil, ""))
		return
	}
	if ct := req.Contact(); ct != nil && req.Method == sip.INVITE {
		x.remoteTarget = *ct.Address.Clone()
	}
	c.refreshed(e.side)
	var body []byte
	withSDP := isSDP(req) && len(req.Body()) > 0
	if withSDP {
		x.peerSDP = req.Body()
		ctx, cancel := mediaCtx()
		sdp, err := c.b.media.Offer(ctx, c.id, e.side, req.Body(), c.profile)
		cancel()
		if err != nil {
			rej := mediaRejection(err)
			_ = e.tx.Respond(x.respond(req, rej.Code, nil, ""))
			return
		}
		body = sdp
	}
	out := y.request(req.Method, body, "application/sdp")
	if body != nil {
		y.sdp = body
	}
	if req.Method == sip.INVITE {
		c.reinvite = true
		out.AppendHeader(sip.NewHeader("Allow", allowHeader))
	}
	c.track(y, out, &pending{method: req.Method, origin: &e, withSDP: withSDP})
	c.refreshed(y.side)
}

// relay forwards INFO, OPTIONS, MESSAGE, NOTIFY and the like with their body.
func (c *call) relay(e evRequest) {
	x, y := c.legs[e.side], c.legs[e.side.Other()]
	req := e.req
	if y == nil || !y.confirmed {
		_ = e.tx.Respond(x.respond(req, 481, nil, ""))
		return
	}
	ctype := ""
	if ct := req.ContentType(); ct != nil {
		ctype = ct.Value()
	}
	out := y.request(req.Method, req.Body(), ctype)
	for _, name := range relayedHeaders[req.Method] {
		for _, h := range req.GetHeaders(name) {
			out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
	if req.Method == sip.SUBSCRIBE {
		c.expireSubscription(headerValue(req, "Expires"))
	}
	c.track(y, out, &pending{method: req.Method, origin: &e})
}

// track sends a request on a leg and remembers what to do with its answer.
func (c *call) track(l *leg, req *sip.Request, p *pending) {
	seq := req.CSeq().SeqNo
	c.pendingOn(l.side)[seq] = p
	if err := l.send(c, req); err != nil {
		delete(c.inFlight[l.side], seq)
		c.log.Warn("relay failed", "method", string(req.Method), "err", err)
		if p.method == sip.INVITE {
			c.reinvite = false
		}
		if p.origin != nil {
			x := c.legs[p.origin.side]
			_ = p.origin.tx.Respond(x.respond(p.origin.req, 503, nil, ""))
		}
	}
}

// onDialogResponse applies a response to an in-dialog request sbcd sent.
func (c *call) onDialogResponse(e evResponse) {
	res := e.res
	y := c.legs[e.side]
	seq := res.CSeq().SeqNo
	p := c.inFlight[e.side][seq]
	if p == nil {
		// A 2xx retransmission for a re-INVITE already answered: ACK again.
		if res.CSeq().MethodName == sip.INVITE && res.IsSuccess() {
			if ack := c.lastAck[e.side]; ack.seq == seq {
				y.resendAck(ack)
			}
		}
		return
	}
	code := res.StatusCode
	if code < 200 {
		return
	}
	delete(c.inFlight[e.side], seq)
	if p.method == sip.INVITE {
		c.reinvite = false
		if res.IsSuccess() {
			if ct := res.Contact(); ct != nil {
				y.remoteTarget = *ct.Address.Clone()
			}
			if p.withSDP || p.refresh || p.origin == nil {
				c.lastAck[e.side], _ = y.sendAck(seq, nil)
			} else {
				c.deferredAck[e.side] = seq
			}
		}
	}
	if p.refresh || p.origin == nil {
		if code == 481 || code == 408 {
			c.teardown("dialog_gone", c.status)
		}
		return
	}
	x := c.legs[p.origin.side]
	var body []byte
	ctype := ""
	if res.IsSuccess() && isSDP(res) && len(res.Body()) > 0 && (p.method == sip.INVITE || p.method == sip.UPDATE) {
		y.peerSDP = res.Body()
		ctx, cancel := mediaCtx()
		var err error
		if p.withSDP {
			body, err = c.b.media.Answer(ctx, c.id, e.side, res.Body(), c.profile)
		} else {
			body, err = c.b.media.Offer(ctx, c.id, e.side, res.Body(), c.profile)
		}
		cancel()
		if err != nil {
			c.log.Warn("re-anchoring refused", "err", err)
		}
		ctype = "application/sdp"
		if body != nil {
			x.sdp = body
		}
	} else if len(res.Body()) > 0 && p.method != sip.INVITE && p.method != sip.UPDATE {
		body = res.Body()
		if ct := res.ContentType(); ct != nil {
			ctype = ct.Value()
		}
	}
	out := x.respond(p.origin.req, code, body, ctype)
	if p.method == sip.INVITE && res.IsSuccess() {
		out.AppendHeader(sip.NewHeader("Allow", allowHeader))
	}
	if err := p.origin.tx.Respond(out); err != nil {
		c.log.Debug("relayed response failed", "err", err)
	}
	if p.method == sip.INVITE && res.IsSuccess() {
		c.retransmit2xx(x.side, out, p.origin.tx.Connection())
	}
	if code == 481 {
		c.teardown("dialog_gone", c.status)
		return
	}
	if subscriptionEnded(p.origin.req) {
		c.finish("completed", c.status)
	}
}

// onAck applies an ACK for a 2xx sbcd sent on a leg.
func (c *call) onAck(e evRequest) {
	c.ok[e.side] = nil
	c.stop(timer2xx)
	if c.state == stateAnswered && e.side == SideA {
		c.state = stateConfirmed
		// The ACK confirms the dialog: the INVITE transaction has no
		// retransmission left to absorb, so it need not wait for Timer L.
		if a := c.legs[SideA]; a.inviteTx != nil {
			a.inviteTx.Terminate()
		}
		c.established()
	}
	other := e.side.Other()
	seq := c.deferredAck[other]
	if seq == 0 {
		return
	}
	c.deferredAck[other] = 0
	y := c.legs[other]
	var body []byte
	if isSDP(e.req) && len(e.req.Body()) > 0 {
		c.legs[e.side].peerSDP = e.req.Body()
		ctx, cancel := mediaCtx()
		sdp, err := c.b.media.Answer(ctx, c.id, e.side, e.req.Body(), c.profile)
		cancel()
		if err != nil {
			c.log.Warn("answer in ACK refused", "err", err)
		}
		body = sdp
	}
	ack, err := y.sendAck(seq, body)
	c.lastAck[other] = ack
	if err != nil {
		c.log.Warn("ACK failed", "err", err)
	}
}

// onTxDone handles the end of a client transaction sbcd started.
func (c *call) onTxDone(e evTxDone) {
	if e.err == nil {
		return
	}
	b := c.legs[SideB]
	if e.side == SideB && e.method == sip.INVITE && b != nil && e.callID == b.callID && !b.confirmed {
		switch c.state {
		case stateSetup:
			if errors.Is(e.err, sip.ErrTransactionTimeout) || errors.Is(e.err, sip.ErrTransactionTransport) || e.err != nil {
				c.log.Info("attempt timed out", "attempt", c.attempt, "err", e.err)
				c.stop(timerInvite)
				c.nextAttempt(408)
			}
		case stateEnding:
			c.finish(c.cause, c.status)
		}
		return
	}
	if x := c.xfer; x != nil && x.leg != nil && e.callID == x.leg.callID && e.method == sip.INVITE {
		c.transferFailed(408)
		return
	}
	p := c.inFlight[e.side][e.seq]
	if p == nil || (e.callID != "" && c.legs[e.side] != nil && e.callID != c.legs[e.side].callID) {
		return
	}
	delete(c.inFlight[e.side], e.seq)
	if p.method == sip.INVITE {
		c.reinvite = false
	}
	if p.origin != nil {
		x := c.legs[p.origin.side]
		_ = p.origin.tx.Respond(x.respond(p.origin.req, 408, nil, ""))
	}
	if p.refresh || p.method == sip.INVITE || p.method == sip.UPDATE {
		c.teardown("dialog_gone", c.status)
	}
}

// onCancel handles the caller's CANCEL: sipgo already answered it and sent
// 487 for the INVITE.
func (c *call) onCancel() {
	if c.state != stateSetup {
		return
	}
	c.cause, c.status = "cancelled", 487
	b := c.legs[SideB]
	if b == nil || b.outSeq == 0 {
		c.finish("cancelled", 487)
		return
	}
	c.cancelAttempt()
	c.state = stateEnding
	c.after(timerEnding, SideB, 32*time.Second)
}

// refer answers REFER as the realm's policy says: "transfer" re-targets the
// other leg to the Refer-To user through sbcd's routing, "reject" answers 403.
func (c *call) refer(e evRequest) {
	x := c.legs[e.side]
	pr := c.pol.Realm(x.realm.name)
	if pr == nil || pr.Refer != "transfer" {
		_ = e.tx.Respond(x.respond(e.req, 403, nil, ""))
		return
	}
	c.transfer(e)
}
