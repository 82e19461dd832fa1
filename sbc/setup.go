package sbc

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// target is one place a call can be sent to.
type target struct {
	realm     *realm
	trunk     *policy.Trunk
	uri       sip.Uri
	dest      string
	transport string
	// nat keeps requests going to dest (a registered user behind NAT).
	nat bool
}

// maxRedirects bounds 3xx recursion per call.
const maxRedirects = 5

// newCall takes a dialog-creating INVITE.
func (b *B2BUA) newCall(r *realm, req *sip.Request, tx *serverTx) {
	if b.refuseNew(req, tx) {
		return
	}
	// An INVITE without Contact (RFC 2543 allowed it) is accepted: the
	// caller's leg targets its From URI and, like every caller's leg,
	// sends to the address the INVITE came from.
	c := b.admit(r, req, tx)
	tx.OnCancel(func(*sip.Request) { c.post(evCancel{}) })
	_ = tx.Respond(newResponse(req, 100))
	c.post(evStart{})
}

// admit creates the call for a dialog-creating request and indexes its A
// leg: the caller's dialog, in which sbcd is the UAS.
func (b *B2BUA) admit(r *realm, req *sip.Request, tx *serverTx) *call {
	c := newCall(b, b.pol.Load())
	c.method = req.Method
	c.adm.account = tx.account
	fromTag, _ := req.From().Params.Get("tag")
	a := &leg{
		side:       SideA,
		realm:      r,
		callID:     string(*req.CallID()),
		localTag:   sip.GenerateTagN(16),
		remoteTag:  fromTag,
		localURI:   *req.To().Address.Clone(),
		remoteURI:  *req.From().Address.Clone(),
		localName:  req.To().DisplayName,
		remoteName: req.From().DisplayName,
		remoteCSeq: req.CSeq().SeqNo,
		dest:       req.Source(),
		transport:  req.Transport(),
		invite:     req,
		inviteTx:   tx,
		allow:      headerValue(req, "Allow"),
	}
	if ct := req.Contact(); ct != nil {
		a.remoteTarget = *ct.Address.Clone()
	} else {
		a.remoteTarget = *req.From().Address.Clone()
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			a.routeSet = append(a.routeSet, *rr.Address.Clone())
		}
	}
	c.legs[SideA] = a
	c.callerIn, c.calleeIn = req.From().Address.User, req.Recipient.User
	key := legKey(r.name, a.callID, fromTag)
	a.keys = append(a.keys, key)
	b.calls.add(c)
	b.calls.bind(key, c, SideA)
	return c
}

// refuseNew answers a request that may not start anything new: sbcd is
// draining (503 with Retry-After), Max-Forwards is exhausted (483) or the
// request came back to sbcd (482). It reports whether it answered.
func (b *B2BUA) refuseNew(req *sip.Request, tx *serverTx) bool {
	switch {
	case b.draining.Load():
		b.obs.Rejected(tx.r.name, req.Method, "draining")
		res := newResponse(req, 503)
		res.AppendHeader(sip.NewHeader("Retry-After", "60"))
		_ = tx.Respond(res)
	case req.MaxForwards() != nil && req.MaxForwards().Val() == 0:
		respondStateless(tx, req, 483, "too_many_hops")
	case b.loops(req):
		respondStateless(tx, req, 482, "loop")
	default:
		return false
	}
	return true
}

// loops reports whether an INVITE carries a Via branch of one of sbcd's own
// outstanding requests: it came back to us.
func (b *B2BUA) loops(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Via") {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		if br, _ := v.Params.Get("branch"); br != "" {
			if c, _ := b.calls.find(branchRealm, br, ""); c != nil {
				return true
			}
		}
	}
	return false
}

// setup routes the caller's INVITE and starts the first attempt.
func (c *call) setup() {
	a := c.legs[SideA]
	req := a.invite
	pr := c.pol.Realm(a.realm.name)
	src := sourceAddr(req)
	var srcTrunk *policy.Trunk
	if pr != nil {
		srcTrunk = c.pol.TrunkByAddr(pr.Name, src)
	}
	// Inbound normalisation works on the caller's request as sbcd sees it.
	msg := &message{m: req, req: req}
	if pr != nil {
		pr.Inbound.Apply(msg)
	}
	if srcTrunk != nil {
		srcTrunk.Inbound.Apply(msg)
	}
	rq := policy.Request{
		SourceRealm: a.realm.name,
		RURIUser:    req.Recipient.User,
		RURIHost:    req.Recipient.Host,
		FromUser:    req.From().Address.User,
		Headers:     requestHeaders(req),
		Time:        c.start,
	}
	if srcTrunk != nil {
		rq.SourceTrunk = srcTrunk.Name
	}
	// Emergency calls are always routed: trunks whose gateways health
	// checks mark down stay candidates (see live.TrunkAvailable).
	d := c.routeOrConference(rq, pr != nil && pr.IsEmergency(c.calleeIn))
	// A call the core sends along a user's Path goes to that user.
	pathRealm, pathUser, viaPath := pathTarget(c.pol, a.realm, req)
	if viaPath {
		d = policy.Decision{Route: "path", Registered: pathRealm}
	}
	c.route = d.Route
	c.failover = d.Failover
	c.callerOut = d.CallingUser
	c.routed = true
	c.srcTrunk = srcTrunk
	if rej := c.admitSource(pr, srcTrunk); rej != nil {
		c.fail(rej)
		return
	}
	c.offerA = req.Body()
	if len(c.offerA) == 0 || !isSDP(req) {
		c.offerA = nil
	}
	a.peerSDP = c.offerA
	if c.offerA != nil && d.Service == "" && d.Reject == nil {
		if err := c.checkSRTP(SideA, c.offerA); err != nil {
			c.fail(mediaRejection(err))
			return
		}
	}
	switch {
	case d.Reject != nil:
		c.fail(&Rejection{Code: d.Reject.Code, Reason: d.Reject.Reason, Label: "route"})
		return
	case d.Service != "" && c.method != sip.INVITE:
		c.fail(reject(405, "route", nil))
		return
	case d.Service != "":
		c.serve(d.Service)
		return
	}
	called := d.CalledUser
	if called == "" {
		called = req.Recipient.User
	}
	switch {
	case viaPath:
		c.targets = c.pathTargets(pathRealm, pathUser, req.Recipient)
	case d.Registered != "":
		c.targets = append(c.targets, c.registeredTargets(d.Registered, called)...)
	}
	for _, t := range d.Trunks {
		c.targets = append(c.targets, c.trunkTargets(t, called)...)
	}
	if len(c.targets) == 0 {
		switch {
		case d.Registered != "":
			c.fail(reject(404, "not_registered", nil))
		case len(d.Candidates) > 0:
			// Every trunk is out of service (or has no rate): fail fast.
			rej := reject(503, "no_gateway", nil)
			rej.SIPReason = reasonHeader(503, "No gateway in service")
			c.fail(rej)
		default:
			c.fail(reject(404, "no_route", nil))
		}
		return
	}
	if d := c.setupDeadline(); d > 0 && c.method == sip.INVITE {
		c.after(timerSetup, SideA, d)
	}
	c.nextAttempt(0)
}

// registeredTargets lists the bindings of a registered user.
func (c *call) registeredTargets(realmName, user string) []target {
	r := c.b.realms[realmName]
	if r == nil {
		return nil
	}
	var out []target
	for _, bd := range c.b.reg.lookup(realmName, user) {
		if isWebSocket(bd.transport) && !r.hasFlow(bd.transport, bd.source) {
			// A browser is reachable only over the connection it
			// registered on (RFC 5626 outbound); sbcd never dials it.
			continue
		}
		out = append(out, target{realm: r, uri: bd.contact, dest: bd.source, transport: bd.transport, nat: true})
	}
	return out
}

// trunkTargets lists a trunk's gateways in the order they are tried:
// those in service; for an emergency call also, after them, those health
// checks mark down.
func (c *call) trunkTargets(t *policy.Trunk, user string) []target {
	r := c.b.realms[t.Realm.Name]
	if r == nil {
		return nil
	}
	var out, down []target
	for _, gw := range t.Candidates(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))) {
		inService := c.b.gatewayInService(t, gw.Addr)
		if !inService && !c.adm.emergency {
			continue
		}
		u := sip.Uri{Scheme: "sip", User: user, Host: gw.Addr.Addr().String(), Port: int(gw.Addr.Port())}
		if gw.Transport != "" && gw.Transport != "udp" {
			u.UriParams = sip.NewParams()
			u.UriParams.Add("transport", gw.Transport)
		}
		tg := target{realm: r, trunk: t, uri: u, dest: gw.Addr.String(), transport: gw.Transport}
		if inService {
			out = append(out, tg)
		} else {
			down = append(down, tg) // emergency calls try them last
		}
	}
	return append(out, down...)
}

// nextAttempt tries the next target; code is the status that ended the
// previous attempt (0 for the first).
func (c *call) nextAttempt(code int) {
	if c.state != stateSetup {
		return
	}
	if code == 0 && len(c.targets) == 0 {
		c.fail(reject(480, "failed", nil))
		return
	}
	if len(c.targets) == 0 || (c.failover != nil && c.failover.MaxAttempts > 0 && c.attempt >= c.failover.MaxAttempts) {
		c.exhausted(code)
		return
	}
	t := c.targets[0]
	c.targets = c.targets[1:]
	if rej := c.admitTarget(t); rej != nil {
		if len(c.targets) == 0 {
			c.fail(rej)
		} else {
			c.nextAttempt(code)
		}
		return
	}
	if t.trunk != nil && !c.adm.emergency {
		c.preemptible.Store(t.trunk.Name)
	}
	c.attempt++
	if n := len(c.attempts); n > 0 && c.attempts[n-1].Status == 0 {
		c.attempts[n-1].Status = code
	}
	at := Attempt{Realm: t.realm.name, Gateway: t.dest, Start: time.Now()}
	if t.trunk != nil {
		at.Trunk = t.trunk.Name
	}
	c.attempts = append(c.attempts, at)
	if old := c.legs[SideB]; old != nil {
		if c.abandoned == nil {
			c.abandoned = make(map[string]*leg)
		}
		c.abandoned[old.callID] = old
	}
	a := c.legs[SideA]
	pr := c.pol.Realm(t.realm.name)
	b := &leg{
		side:         SideB,
		realm:        t.realm,
		callID:       sip.GenerateTagN(24),
		localTag:     sip.GenerateTagN(16),
		localURI:     sip.Uri{Scheme: "sip", User: c.callingUser(), Host: t.realm.host},
		localName:    a.invite.From().DisplayName,
		remoteURI:    sip.Uri{Scheme: "sip", User: t.uri.User, Host: t.uri.Host, Port: t.uri.Port},
		remoteTarget: t.uri,
		transport:    t.realm.transportFor(t.transport),
		dest:         t.dest,
		trunk:        t.trunk,
		nat:          t.nat,
	}
	c.legs[SideB] = b
	c.provisonal = false

	c.profile = MediaProfile{Realm: [2]string{a.realm.name, t.realm.name}}
	if pa := c.pol.Realm(a.realm.name); pa != nil {
		c.profile.Codecs[SideA] = pa.Media.Codecs
		c.profile.SRTP[SideA] = pa.Media.SRTP
		c.profile.Record = pa.Media.Record
	}
	if pr != nil {
		c.profile.Codecs[SideB] = pr.Media.Codecs
		c.profile.SRTP[SideB] = pr.Media.SRTP
		c.profile.Record = c.profile.Record || pr.Media.Record
	}
	if t.trunk != nil {
		c.profile.Record = c.profile.Record || t.trunk.Record
		if len(t.trunk.Codecs) > 0 {
			c.profile.Codecs[SideB] = t.trunk.Codecs
		}
		if t.trunk.SRTP != "" {
			c.profile.SRTP[SideB] = t.trunk.SRTP
		}
	}
	dtmfModes(c.pol, &c.profile, [2]*policy.Trunk{c.srcTrunk, t.trunk})
	c.profile.SRTP[SideA] = webrtcSRTP(c.profile.SRTP[SideA], a.transport)
	c.profile.SRTP[SideB] = webrtcSRTP(c.profile.SRTP[SideB], b.transport)
	var req *sip.Request
	if c.method == sip.INVITE {
		var body []byte
		if c.offerA != nil {
			ctx, cancel := mediaCtx()
			sdp, err := c.b.media.Offer(ctx, c.id, SideA, c.offerA, c.profile)
			cancel()
			if err != nil {
				c.fail(mediaRejection(err))
				return
			}
			body = sdp
		}
		req = c.inviteRequest(b, body, pr)
		b.sdp = ownSDP(body)
	} else {
		ctype := ""
		if ct := a.invite.ContentType(); ct != nil {
			ctype = ct.Value()
		}
		req = b.request(c.method, a.invite.Body(), ctype)
		for _, name := range relayedHeaders[c.method] {
			for _, h := range a.invite.GetHeaders(name) {
				req.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
			}
		}
		if mf := a.invite.MaxForwards(); mf != nil {
			v := sip.MaxForwardsHeader(mf.Val() - 1)
			req.ReplaceHeader(&v)
		}
	}
	copyAllowed(a.invite, req, c.pol.Realm(a.realm.name))
	c.normalizeOut(req, pr, t.trunk)
	b.sent(req)
	branch, _ := req.Via().Params.Get("branch")
	b.keys = append(b.keys, legKey(t.realm.name, b.callID, ""), legKey(branchRealm, branch, ""))
	for _, k := range b.keys {
		c.b.calls.bind(k, c, SideB)
	}
	if c.method == sip.INVITE {
		// before the INVITE leaves, so that observers know the B leg's
		// Call-ID when they see the INVITE and its first response
		c.b.obs.AttemptStarted(c.record(MediaStats{}))
	}
	tx, err := b.start(c, req)
	if err != nil {
		c.log.Warn("INVITE failed", "err", err, "dest", t.dest)
		c.nextAttempt(503)
		return
	}
	b.outTx = tx
	if c.method != sip.INVITE {
		return
	}
	timeout := c.pol.Config().SIP.InviteTimeout
	if c.failover != nil && c.failover.AttemptTimeout > 0 {
		timeout = c.failover.AttemptTimeout
	}
	if timeout <= 0 {
		timeout = 32 * time.Second
	}
	c.after(timerInvite, SideB, timeout)
}

// inviteRequest builds the B-leg INVITE.
func (c *call) inviteRequest(b *leg, body []byte, pr *policy.Realm) *sip.Request {
	a := c.legs[SideA]
	req := b.request(sip.INVITE, body, "application/sdp")
	// Max-Forwards carries on across the border, decremented.
	if mf := a.invite.MaxForwards(); mf != nil {
		v := sip.MaxForwardsHeader(mf.Val() - 1)
		req.ReplaceHeader(&v)
	}
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	supported := []string{"timer"}
	if pr == nil || pr.PRACK != "disable" {
		supported = append(supported, "100rel")
	}
	req.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	se := c.sessionExpires()
	req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se.Seconds()))+";refresher=uac"))
	return req
}

// sessionExpires is the RFC 4028 interval sbcd asks for.
func (c *call) sessionExpires() time.Duration {
	se := c.pol.Config().SIP.SessionExpires
	if se <= 0 {
		se = 1800 * time.Second
	}
	return se
}

// fail answers the caller with a final error and ends the call.
func (c *call) fail(rej *Rejection) {
	if c.announce(rej) {
		return // the response follows the announcement (tones.go)
	}
	c.stopPlay()
	a := c.legs[SideA]
	res := a.respond(a.invite, rej.Code, nil, "")
	if rej.Reason != "" {
		res.Reason = rej.Reason
	}
	if rej.SIPReason != "" {
		res.AppendHeader(sip.NewHeader("Reason", rej.SIPReason))
	}
	if rej.RetryAfter > 0 {
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(rej.RetryAfter)))
	}
	if err := a.inviteTx.Respond(res); err != nil && !errors.Is(err, sip.ErrTransactionCanceled) {
		c.log.Warn("final response failed", "err", err)
	}
	// "failed" and "rejected" labels are the far side's answers; any
	// other label is sbcd's own refusal.
	cause := "rejected"
	if rej.Label == "failed" || rej.Label == "rejected" {
		cause = "failed"
	} else {
		c.reason = rej.Label
		c.b.obs.Rejected(a.realm.name, c.method, rej.Label)
	}
	c.finish(cause, rej.Code)
}

// cancelAttempt stops the current B attempt: CANCEL if it is ringing,
// else a CANCEL as soon as it rings (or ACK+BYE if it answers).
func (c *call) cancelAttempt() {
	b := c.legs[SideB]
	if b == nil || b.out == nil || b.confirmed {
		return
	}
	c.stop(timerInvite)
	if c.provisonal {
		if err := b.send(c, b.cancel()); err != nil {
			c.log.Warn("CANCEL failed", "err", err)
		}
		return
	}
	b.cancelPending = true
}

// callingUser is the From user of B legs: the caller's, after the route's translation.
func (c *call) callingUser() string {
	if c.callerOut != "" {
		return c.callerOut
	}
	return c.legs[SideA].invite.From().Address.User
}

// exhausted answers the caller when every candidate failed (or the
// attempts or setup time ran out): 504 when the last attempt timed out,
// else 503, with a Reason header (RFC 3326) naming the last failure.
func (c *call) exhausted(code int) {
	mapped := 503
	if code == 408 {
		mapped = 504
	}
	rej := reject(mapped, "failed", nil)
	rej.SIPReason = reasonHeader(code, "")
	c.log.Info("every candidate failed", "attempts", c.attempt, "last_status", code, "status", mapped)
	c.fail(rej)
}
