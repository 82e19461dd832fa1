package sbc

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// serve answers the caller with a built-in media service (echo, tone):
// sbcd is the callee, leg A is the whole call.
func (c *call) serve(service string) {
	a := c.legs[SideA]
	c.service = service
	if c.offerA == nil {
		// The service needs the caller's offer to answer it.
		c.fail(reject(488, "media_sdp", nil))
		return
	}
	ctx, cancel := mediaCtx()
	sdp, err := c.b.media.Serve(ctx, c.id, service, c.offerA, a.realm.name)
	cancel()
	if err != nil {
		c.fail(mediaRejection(err))
		return
	}
	a.sdp = sdp
	ok := a.respond(a.invite, 200, sdp, "application/sdp")
	ok.AppendHeader(sip.NewHeader("Allow", allowHeader))
	if err := a.inviteTx.Respond(ok); err != nil {
		c.finish("cancelled", 487)
		return
	}
	a.confirmed = true
	c.state = stateAnswered
	c.answered = time.Now()
	c.status = 200
	c.retransmit2xx(SideA, ok, a.inviteTx.Connection())
}

// serviceRequest answers in-dialog requests of a service call locally.
func (c *call) serviceRequest(e evRequest) {
	a := c.legs[SideA]
	switch e.req.Method {
	case sip.INVITE, sip.UPDATE:
		if isSDP(e.req) && len(e.req.Body()) > 0 {
			ctx, cancel := mediaCtx()
			sdp, err := c.b.media.Serve(ctx, c.id, c.service, e.req.Body(), a.realm.name)
			cancel()
			if err != nil {
				rej := mediaRejection(err)
				_ = e.tx.Respond(a.respond(e.req, rej.Code, nil, ""))
				return
			}
			a.sdp = sdp
		}
		res := a.respond(e.req, 200, a.sdp, "application/sdp")
		_ = e.tx.Respond(res)
		if e.req.Method == sip.INVITE {
			c.retransmit2xx(SideA, res, e.tx.Connection())
		}
	default:
		_ = e.tx.Respond(a.respond(e.req, 200, nil, ""))
	}
}
