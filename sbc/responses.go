package sbc

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// onResponse applies a response received on a leg, in arrival order.
func (c *call) onResponse(e evResponse) {
	res := e.res
	cseq := res.CSeq()
	if cseq == nil {
		return
	}
	if x := c.xfer; x != nil && x.leg != nil && string(*res.CallID()) == x.leg.callID {
		c.onTransferResponse(res)
		return
	}
	if e.side == SideB && c.method != sip.INVITE && cseq.MethodName == c.method {
		if b := c.legs[SideB]; b != nil && string(*res.CallID()) == b.callID && cseq.SeqNo == b.outSeq {
			c.onTransactionResponse(res)
			return
		}
	}
	if e.side == SideB && cseq.MethodName == sip.INVITE {
		if b := c.legs[SideB]; b != nil && string(*res.CallID()) == b.callID && b.outSeq != 0 && cseq.SeqNo == b.outSeq {
			c.onInviteResponse(res)
			return
		}
		if old, ok := c.abandoned[string(*res.CallID())]; ok {
			c.onAbandonedResponse(old, res)
			return
		}
	}
	c.onDialogResponse(e)
}

// onInviteResponse handles responses to the B-leg INVITE that sets the call up.
func (c *call) onInviteResponse(res *sip.Response) {
	b := c.legs[SideB]
	code := res.StatusCode
	tag, _ := res.To().Params.Get("tag")
	switch {
	case code < 200:
		if code == 100 || c.state != stateSetup {
			return
		}
		c.provisonal = true
		if c.ringing.IsZero() {
			c.ringing = time.Now()
		}
		if b.cancelPending {
			b.cancelPending = false
			_ = b.send(c, b.cancel())
			return
		}
		if b.remoteTag == "" {
			b.remoteTag = tag
		}
		if rseq := headerValue(res, "RSeq"); rseq != "" && hasOption(res, "Require", "100rel") && tag != "" {
			c.prack(b, res, rseq, tag)
		}
		var body []byte
		if isSDP(res) && len(res.Body()) > 0 && c.offerA != nil {
			b.peerSDP = res.Body()
			ctx, cancel := mediaCtx()
			sdp, err := c.b.media.Answer(ctx, c.id, SideB, res.Body(), c.profile)
			cancel()
			if err != nil {
				c.log.Warn("early media answer refused", "err", err)
			} else {
				body = sdp
			}
		}
		if body != nil {
			c.earlyAnswer = body
			c.stopPlay() // the callee's own early media
		} else {
			body = c.ringback(code)
		}
		a := c.legs[SideA]
		if err := a.inviteTx.Respond(a.respond(a.invite, code, body, "application/sdp")); err != nil {
			c.log.Debug("provisional to caller failed", "err", err)
		}
	case code < 300:
		c.onInvite2xx(res, tag)
	default:
		c.stop(timerInvite)
		if c.state == stateEnding {
			c.finish(c.cause, c.status)
			return
		}
		if c.state != stateSetup {
			return
		}
		c.onInviteFailure(res)
	}
}

// onInvite2xx handles a 2xx to the B-leg INVITE: the call is answered.
func (c *call) onInvite2xx(res *sip.Response, tag string) {
	b := c.legs[SideB]
	if b.confirmed {
		if tag == b.remoteTag {
			// A retransmission: our ACK was lost.
			b.resendAck(c.lastAck[SideB])
			return
		}
		c.dropFork(b, res, tag)
		return
	}
	c.stop(timerInvite)
	c.stopPlay()
	c.setup2xx[SideB] = res
	b.remoteTag = tag
	b.confirmed = true
	b.allow = headerValue(res, "Allow")
	if ct := res.Contact(); ct != nil {
		b.remoteTarget = *ct.Address.Clone()
	}
	b.routeSet = b.routeSet[:0]
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			b.routeSet = append(b.routeSet, *rr.Address.Clone())
		}
	}
	if !c.isNAT(b) {
		b.dest = ""
	}
	if c.state != stateSetup {
		// The caller cancelled or sbcd gave up while B answered: end B.
		c.ackB(nil)
		c.teardown(c.cause, c.status)
		return
	}
	var body []byte
	lateOffer := c.offerA == nil
	if isSDP(res) && len(res.Body()) > 0 {
		b.peerSDP = res.Body()
		ctx, cancel := mediaCtx()
		err := c.checkSRTP(SideB, res.Body())
		switch {
		case err != nil:
		case lateOffer:
			body, err = c.b.media.Offer(ctx, c.id, SideB, res.Body(), c.profile)
		default:
			body, err = c.b.media.Answer(ctx, c.id, SideB, res.Body(), c.profile)
		}
		cancel()
		if err != nil {
			c.log.Warn("answer refused by media plane", "err", err)
			c.ackB(nil)
			c.state = stateConfirmed
			b.confirmed = true
			c.legs[SideA].confirmed = false
			c.teardown("media", 488)
			a := c.legs[SideA]
			_ = a.inviteTx.Respond(a.respond(a.invite, 488, nil, ""))
			return
		}
	}
	if body == nil && !lateOffer {
		// The callee answered in a reliable provisional response; the
		// caller got it unreliably, so its 2xx must carry the answer.
		body = c.earlyAnswer
	}
	if !lateOffer {
		c.ackB(nil)
		// Retransmitted or forked 2xx reach the call through the ordered
		// hook and are ACKed from there: the transaction can go now.
		if b.outTx != nil {
			b.outTx.Terminate()
		}
	} else {
		c.deferredAck[SideB] = b.outSeq
	}
	c.sessionTimer(b, res)
	a := c.legs[SideA]
	a.sdp = ownSDP(body)
	ok := a.respond(a.invite, 200, body, "application/sdp")
	ok.AppendHeader(sip.NewHeader("Allow", allowHeader))
	c.addSessionExpires(a, ok)
	if err := a.inviteTx.Respond(ok); err != nil {
		// The caller cancelled in the meantime (CANCEL/200 race).
		if errors.Is(err, sip.ErrTransactionCanceled) || c.state != stateSetup {
			c.teardown("cancelled", 487)
			return
		}
		c.log.Warn("2xx to caller failed", "err", err)
	}
	a.confirmed = true
	c.state = stateAnswered
	c.setup2xx[SideA] = ok
	c.targets, c.earlyAnswer = nil, nil
	c.answered = time.Now()
	c.status = 200
	c.adm.fraud.Answered()
	c.b.obs.CallAnswered(c.record(MediaStats{}))
	c.retransmit2xx(SideA, ok, a.inviteTx.Connection())
}

// ackB acknowledges the 2xx of the B-leg INVITE.
func (c *call) ackB(body []byte) {
	b := c.legs[SideB]
	ack, err := b.sendAck(b.outSeq, body)
	c.lastAck[SideB] = ack
	if err != nil {
		c.log.Warn("ACK failed", "err", err)
	}
}

// dropFork ends an extra dialog created by a forked 2xx: ACK and BYE.
func (c *call) dropFork(b *leg, res *sip.Response, tag string) {
	fork := *b
	fork.remoteTag = tag
	fork.routeSet = nil
	if ct := res.Contact(); ct != nil {
		fork.remoteTarget = *ct.Address.Clone()
	}
	fork.dest = ""
	if c.isNAT(b) {
		fork.dest = b.dest
	}
	fork.cseq = b.outSeq
	_ = fork.write(fork.ack(b.outSeq, nil, ""))
	bye := fork.request(sip.BYE, nil, "")
	if err := fork.send(c, bye); err != nil {
		c.log.Warn("BYE of forked dialog failed", "err", err)
	}
	c.log.Info("forked answer dropped", "tag_count", 2)
}

// onAbandonedResponse ends a B attempt sbcd gave up on that answers late.
func (c *call) onAbandonedResponse(old *leg, res *sip.Response) {
	if res.StatusCode > 100 && res.StatusCode < 200 && old.cancelPending {
		old.cancelPending = false
		_ = old.send(c, old.cancel())
		return
	}
	if res.StatusCode < 200 || res.StatusCode >= 300 {
		return
	}
	tag, _ := res.To().Params.Get("tag")
	c.dropFork(old, res, tag)
}

// onInviteFailure handles a final error of the current B attempt.
func (c *call) onInviteFailure(res *sip.Response) {
	code := res.StatusCode
	if code >= 300 && code < 400 && c.redirect(res) {
		return
	}
	if c.failsOver(code) {
		if len(c.targets) > 0 {
			c.log.Info("attempt failed, trying next", "status", code, "attempt", c.attempt)
		}
		c.nextAttempt(code)
		return
	}
	mapped := code
	switch code {
	case 401, 407:
		// Challenges belong to the far realm's credentials.
		mapped = 403
	}
	rej := reject(mapped, "rejected", nil)
	if code >= 300 && code < 400 {
		c.failRedirect(res)
		return
	}
	c.fail(rej)
}

// failsOver tells whether a final status moves the call to the next target.
func (c *call) failsOver(code int) bool {
	var t *policy.Trunk
	if b := c.legs[SideB]; b != nil {
		t = b.trunk
	}
	if c.failover == nil && t == nil {
		return slices.Contains([]int{408, 480, 500, 502, 503, 504}, code)
	}
	return c.failover.FailsOver(code, t)
}

// isNAT tells whether a leg goes to a registered user behind NAT.
func (c *call) isNAT(b *leg) bool { return b.nat }

// redirect recurses on a 3xx when the realm's policy says so.
func (c *call) redirect(res *sip.Response) bool {
	b := c.legs[SideB]
	pr := c.pol.Realm(b.realm.name)
	if pr == nil || pr.Redirect != "recurse" || c.attempt >= maxRedirects {
		return false
	}
	var add []target
	for _, h := range res.GetHeaders("Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok || ct.Address.Host == "" {
			continue
		}
		u := *ct.Address.Clone()
		tp := "udp"
		if v, ok := u.UriParams.Get("transport"); ok {
			tp = strings.ToLower(v)
		}
		add = append(add, target{realm: b.realm, uri: u, dest: hostPort(&u, tp), transport: tp})
	}
	if len(add) == 0 {
		return false
	}
	c.targets = append(add, c.targets...)
	c.nextAttempt(res.StatusCode)
	return true
}

// failRedirect relays a 3xx to the caller with contacts that point at
// sbcd (only the user parts cross the border).
func (c *call) failRedirect(res *sip.Response) {
	a := c.legs[SideA]
	out := a.respond(a.invite, res.StatusCode, nil, "")
	for _, h := range res.GetHeaders("Contact") {
		if ct, ok := h.(*sip.ContactHeader); ok {
			u := sip.Uri{Scheme: "sip", User: ct.Address.User, Host: a.realm.host, Port: a.realm.port(a.transport)}
			out.AppendHeader(&sip.ContactHeader{Address: u})
		}
	}
	_ = a.inviteTx.Respond(out)
	c.finish("redirected", res.StatusCode)
}

// prack acknowledges a reliable provisional response on leg B (sbcd
// terminates 100rel per leg).
func (c *call) prack(b *leg, res *sip.Response, rseq, tag string) {
	early := *b
	early.remoteTag = tag
	if ct := res.Contact(); ct != nil {
		early.remoteTarget = *ct.Address.Clone()
	}
	req := early.request(sip.PRACK, nil, "")
	b.cseq = early.cseq
	req.AppendHeader(sip.NewHeader("RAck", rseq+" "+itoa(res.CSeq().SeqNo)+" INVITE"))
	c.pendingOn(SideB)[req.CSeq().SeqNo] = &pending{method: sip.PRACK}
	if err := early.send(c, req); err != nil {
		c.log.Warn("PRACK failed", "err", err)
	}
}
