package sbc

import (
	"bytes"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// transfer is a REFER being carried out: the referrer's leg is replaced by
// a new leg to the Refer-To target, which the other party stays connected to.
type transfer struct {
	// side is the side being replaced; referrer is its leg.
	side     Side
	referrer *leg
	targets  []target
	// leg is the attempt in progress towards the target.
	leg     *leg
	profile MediaProfile
}

// transfer starts a transfer asked for by REFER on leg e.side. The
// Refer-To target is routed as if the referrer's realm had dialled it, so
// the internal Refer-To never crosses the border.
func (c *call) transfer(e evRequest) {
	x := c.legs[e.side]
	y := c.legs[e.side.Other()]
	if (c.state != stateConfirmed && c.state != stateAnswered) || c.xfer != nil || c.service != "" || y == nil || !y.confirmed {
		_ = e.tx.Respond(x.respond(e.req, 491, nil, ""))
		return
	}
	var to sip.Uri
	h := e.req.GetHeader("Refer-To")
	if h == nil || sip.ParseUri(strings.Trim(strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0]), "<>"), &to) != nil || to.User == "" {
		_ = e.tx.Respond(x.respond(e.req, 400, nil, ""))
		return
	}
	d := c.pol.Route(policy.Request{SourceRealm: x.realm.name, RURIUser: to.User, RURIHost: to.Host, FromUser: y.remoteURI.User})
	var targets []target
	if d.Reject == nil && d.Service == "" {
		if d.Registered != "" {
			targets = append(targets, c.registeredTargets(d.Registered, to.User)...)
		}
		for _, t := range d.Trunks {
			targets = append(targets, c.trunkTargets(t, to.User)...)
		}
	}
	if len(targets) == 0 {
		_ = e.tx.Respond(x.respond(e.req, 403, nil, ""))
		return
	}
	_ = e.tx.Respond(x.respond(e.req, 202, nil, ""))
	c.xfer = &transfer{side: e.side, referrer: x, targets: targets}
	c.log.Info("transfer", "from_leg", e.side.String(), "route", d.Route)
	c.notifyReferrer(false, "SIP/2.0 100 Trying")
	c.transferAttempt()
}

// transferAttempt sends the INVITE for the next transfer target, offering
// the remaining party's media.
func (c *call) transferAttempt() {
	x := c.xfer
	if len(x.targets) == 0 {
		c.transferFailed(480)
		return
	}
	t := x.targets[0]
	x.targets = x.targets[1:]
	y := c.legs[x.side.Other()]
	n := &leg{
		side:         x.side,
		realm:        t.realm,
		callID:       sip.GenerateTagN(24),
		localTag:     sip.GenerateTagN(16),
		localURI:     sip.Uri{Scheme: "sip", User: y.remoteURI.User, Host: t.realm.host},
		localName:    y.remoteName,
		remoteURI:    sip.Uri{Scheme: "sip", User: t.uri.User, Host: t.uri.Host, Port: t.uri.Port},
		remoteTarget: t.uri,
		transport:    t.realm.transportFor(t.transport),
		dest:         t.dest,
		trunk:        t.trunk,
		nat:          t.nat,
	}
	x.profile = c.profile
	x.profile.Realm[x.side] = t.realm.name
	var body []byte
	if y.peerSDP != nil {
		ctx, cancel := mediaCtx()
		sdp, err := c.b.media.Offer(ctx, c.id, y.side, y.peerSDP, x.profile)
		cancel()
		if err != nil {
			c.log.Warn("transfer offer refused by media plane", "err", err)
			c.transferFailed(mediaRejection(err).Code)
			return
		}
		body = sdp
	}
	req := n.request(sip.INVITE, body, "application/sdp")
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	c.normalizeOut(req, c.pol.Realm(t.realm.name), t.trunk)
	n.sent(req)
	n.sdp = body
	x.leg = n
	n.keys = []string{legKey(t.realm.name, n.callID, "")}
	c.b.calls.bind(n.keys[0], c, x.side)
	tx, err := n.start(c, req)
	if err != nil {
		c.b.calls.unbind(n.keys...)
		c.transferAttempt()
		return
	}
	n.outTx = tx
}

// onTransferResponse handles responses to the transfer INVITE.
func (c *call) onTransferResponse(res *sip.Response) {
	x := c.xfer
	n := x.leg
	if res.CSeq().MethodName != sip.INVITE {
		return
	}
	code := res.StatusCode
	switch {
	case code < 200:
		return
	case code >= 300:
		c.b.calls.unbind(n.keys...)
		x.leg = nil
		if len(x.targets) > 0 && c.failsOverLeg(n, code) {
			c.transferAttempt()
			return
		}
		c.transferFailed(code)
		return
	}
	if n.confirmed {
		if n.remoteTag == tagOf(res) {
			n.resendAck(c.lastAck[x.side])
		}
		return
	}
	n.remoteTag = tagOf(res)
	n.confirmed = true
	if ct := res.Contact(); ct != nil {
		n.remoteTarget = *ct.Address.Clone()
	}
	if !n.nat {
		n.dest = ""
	}
	ack, _ := n.sendAck(n.outSeq, nil)
	if n.outTx != nil {
		n.outTx.Terminate()
	}
	n.release()
	y := c.legs[x.side.Other()]
	if isSDP(res) && len(res.Body()) > 0 {
		n.peerSDP = res.Body()
		ctx, cancel := mediaCtx()
		sdp, err := c.b.media.Answer(ctx, c.id, x.side, res.Body(), x.profile)
		cancel()
		if err == nil && !bytes.Equal(sdp, y.sdp) && !c.reinvite {
			// The remaining party's media changes: tell it.
			y.sdp = sdp
			c.reinvite = true
			c.track(y, y.request(sip.INVITE, sdp, "application/sdp"), &pending{method: sip.INVITE, withSDP: true})
		}
	}
	c.notifyReferrer(true, "SIP/2.0 200 OK")
	// The referrer leaves: BYE, and the new leg takes its place.
	old := x.referrer
	if err := old.send(c, old.request(sip.BYE, nil, "")); err != nil {
		c.log.Warn("BYE to referrer failed", "err", err)
	}
	c.b.calls.unbind(old.keys...)
	c.legs[x.side] = n
	c.profile = x.profile
	c.lastAck[x.side] = ack
	c.xfer = nil
	c.log.Info("transfer completed", "leg", x.side.String())
}

// transferFailed reports a failed transfer to the referrer; the call goes on.
func (c *call) transferFailed(code int) {
	x := c.xfer
	if x == nil {
		return
	}
	if x.leg != nil {
		c.b.calls.unbind(x.leg.keys...)
	}
	c.notifyReferrer(true, "SIP/2.0 "+itoa(uint32(code))+" "+reasonPhrase(code))
	c.xfer = nil
	c.log.Info("transfer failed", "status", code)
}

// notifyReferrer sends the referrer a NOTIFY with a sipfrag of progress.
func (c *call) notifyReferrer(final bool, frag string) {
	if c.xfer == nil {
		return
	}
	ref := c.xfer.referrer
	req := ref.request(sip.NOTIFY, []byte(frag+"\r\n"), "message/sipfrag;version=2.0")
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	c.track(ref, req, &pending{method: sip.NOTIFY})
}

// failsOverLeg tells whether a final status moves an attempt on leg n to
// its next target.
func (c *call) failsOverLeg(n *leg, code int) bool {
	if n.trunk != nil {
		return n.trunk.FailsOver(code)
	}
	return code == 408 || code >= 500
}

func tagOf(res *sip.Response) string {
	t, _ := res.To().Params.Get("tag")
	return t
}
