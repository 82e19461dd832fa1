package sbc

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// newTransaction takes MESSAGE, PUBLISH, out-of-dialog NOTIFY and
// SUBSCRIBE: they are routed like calls and cross the border with the same
// hiding, without media. SUBSCRIBE creates a dialog on both legs that lives
// until a NOTIFY terminates it or it expires.
func (b *B2BUA) newTransaction(r *realm, req *sip.Request, tx *serverTx) {
	if b.refuseNew(req, tx) {
		return
	}
	c := b.admit(r, req, tx)
	c.post(evStart{})
}

// onTransactionResponse handles the answer to a non-INVITE request sbcd
// relayed for leg A (MESSAGE, SUBSCRIBE, ...).
func (c *call) onTransactionResponse(res *sip.Response) {
	code := res.StatusCode
	if code < 200 || c.state != stateSetup {
		return
	}
	b, a := c.legs[SideB], c.legs[SideA]
	if code >= 300 {
		if len(c.targets) > 0 && c.failsOver(code) {
			c.nextAttempt(code)
			return
		}
		mapped := code
		if code == 401 || code == 407 {
			mapped = 403
		}
		c.fail(reject(mapped, "rejected", nil))
		return
	}
	out := a.respond(a.invite, code, nil, "")
	for _, name := range []string{"Expires", "SIP-ETag"} {
		for _, h := range res.GetHeaders(name) {
			out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
	_ = a.inviteTx.Respond(out)
	if c.method != sip.SUBSCRIBE {
		c.status = code
		c.finish("completed", code)
		return
	}
	tag, _ := res.To().Params.Get("tag")
	b.remoteTag = tag
	b.confirmed = true
	a.confirmed = true
	if ct := res.Contact(); ct != nil {
		b.remoteTarget = *ct.Address.Clone()
	}
	if !b.nat {
		b.dest = ""
	}
	c.state = stateConfirmed
	c.status = code
	c.answered = time.Now()
	c.expireSubscription(headerValue(res, "Expires"))
}

// expireSubscription (re)arms the end of a subscription dialog.
func (c *call) expireSubscription(expires string) {
	n, err := strconv.Atoi(strings.TrimSpace(expires))
	if err != nil || n <= 0 {
		n = 3600
	}
	c.after(timerEnding, SideA, time.Duration(n)*time.Second+32*time.Second)
}

// subscriptionEnded tells whether a relayed NOTIFY terminated the subscription.
func subscriptionEnded(req *sip.Request) bool {
	return req.Method == sip.NOTIFY && strings.HasPrefix(strings.ToLower(strings.TrimSpace(headerValue(req, "Subscription-State"))), "terminated")
}
