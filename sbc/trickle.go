package sbc

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// trickleICEType is the body of an INFO of the trickle-ice package
// (RFC 8840): candidates, or end-of-candidates, gathered after the offer.
const trickleICEType = "application/trickle-ice-sdpfrag"

// trickleInfo answers a trickle-ice INFO from a WebRTC leg itself. sbcd
// terminates ICE on that leg as ICE-lite: it learns the browser's address
// from its connectivity checks and needs no candidates, and the other leg
// never saw the browser's ICE, so the INFO is acknowledged and not
// relayed. It returns false for any other request.
func (c *call) trickleInfo(e evRequest) bool {
	req := e.req
	if req.Method != sip.INFO || c.profile.SRTP[e.side] != "webrtc" {
		return false
	}
	ct := req.ContentType()
	if ct == nil {
		return false
	}
	mt, _, _ := strings.Cut(ct.Value(), ";")
	if !strings.EqualFold(strings.TrimSpace(mt), trickleICEType) {
		return false
	}
	_ = e.tx.Respond(c.legs[e.side].respond(req, 200, nil, ""))
	return true
}
