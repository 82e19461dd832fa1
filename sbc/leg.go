package sbc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// leg is one dialog of a call, as sbcd sees it: sbcd is the UAS of leg A
// and the UAC of leg B (roles stay with the leg after the call is set up).
type leg struct {
	side  Side
	realm *realm

	callID              string
	localTag, remoteTag string
	localURI, remoteURI sip.Uri
	localName           string
	remoteName          string
	// cseq is the last CSeq sbcd used on this leg; remoteCSeq the last
	// one received from the peer.
	cseq       uint32
	remoteCSeq uint32

	remoteTarget sip.Uri
	routeSet     []sip.Uri
	// dest, when set, is where requests go instead of the remote target or
	// first route (leg A: the caller's source address, for NAT).
	dest      string
	transport string

	// Leg A: the caller's INVITE (with sbcd's To tag) and its transaction,
	// kept while the call is set up (see release).
	invite   *sip.Request
	inviteTx *serverTx
	// Leg B: the INVITE sbcd sent and its transaction, kept while the call
	// is set up; outSeq is that INVITE's CSeq, and callerOut and calleeOut
	// its From and Request-URI users (for call records), kept for the
	// call's life.
	out                  *sip.Request
	outTx                *sip.ClientTx
	callerOut, calleeOut string
	outSeq               uint32
	// nat keeps in-dialog requests going to dest (a registered user behind NAT).
	nat bool
	// cancelPending sends a CANCEL as soon as the INVITE gets a provisional
	// response (RFC 3261 9.1 forbids one before).
	cancelPending bool
	// confirmed is set once a 2xx established the dialog on this leg.
	confirmed bool
	// peerRefreshes is set when the peer, not sbcd, refreshes the session.
	peerRefreshes bool

	// keys are the registry keys this leg is indexed under.
	keys []string
	// sdp is the last SDP sbcd sent on this leg; peerSDP the last one
	// received from the peer.
	sdp, peerSDP []byte
	// allow lists methods the peer said it accepts.
	allow string
	// trunk is the trunk a B leg was sent to (nil: a registered user or a redirect target).
	trunk *policy.Trunk
	// sessionExpires is the negotiated RFC 4028 interval on this leg (0 = none).
	sessionExpires time.Duration
}

// sentAck is what it takes to send an ACK of a leg again, for a
// retransmitted 2xx: the same CSeq, Via branch and body.
type sentAck struct {
	seq    uint32
	branch string
	body   []byte
}

// ownSDP is an SDP body a leg keeps for the call's life, copied to its
// length: the media plane's buffer (or ng reply it came in) has room to
// spare or holds more than the SDP.
func ownSDP(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// sent notes the dialog-creating request sbcd sends on the leg.
func (l *leg) sent(req *sip.Request) {
	l.out = req
	l.outSeq = req.CSeq().SeqNo
	l.calleeOut = req.Recipient.User
	if f := req.From(); f != nil {
		l.callerOut = f.Address.User
	}
}

// release drops what only the call's setup needed: the dialog-creating
// request, its response and transaction. In-dialog requests are built
// from the leg's own fields.
func (l *leg) release() {
	l.invite, l.inviteTx = nil, nil
	l.out, l.outTx = nil, nil
}

// nextCSeq returns the CSeq for a new request on the leg.
func (l *leg) nextCSeq() uint32 {
	l.cseq++
	return l.cseq
}

// request builds an in-dialog request of this leg.
func (l *leg) request(method sip.RequestMethod, body []byte, ctype string) *sip.Request {
	return l.requestCSeq(method, l.nextCSeq(), body, ctype)
}

func (l *leg) requestCSeq(method sip.RequestMethod, seq uint32, body []byte, ctype string) *sip.Request {
	return l.requestBranch(method, seq, sip.GenerateBranch(), body, ctype)
}

func (l *leg) requestBranch(method sip.RequestMethod, seq uint32, branch string, body []byte, ctype string) *sip.Request {
	req := sip.NewRequest(method, *l.remoteTarget.Clone())
	tp := l.realm.transportFor(l.transport)
	req.AppendHeader(l.realm.via(tp, branch))
	for i := range l.routeSet {
		req.AppendHeader(&sip.RouteHeader{Address: *l.routeSet[i].Clone()})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{DisplayName: l.localName, Address: *l.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", l.localTag)
	req.AppendHeader(from)
	to := &sip.ToHeader{DisplayName: l.remoteName, Address: *l.remoteURI.Clone(), Params: sip.NewParams()}
	if l.remoteTag != "" {
		to.Params.Add("tag", l.remoteTag)
	}
	req.AppendHeader(to)
	cid := sip.CallIDHeader(l.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	if method == sip.INVITE || method == sip.UPDATE || method == sip.SUBSCRIBE || method == sip.NOTIFY || method == sip.REFER {
		req.AppendHeader(l.realm.contact(tp))
	}
	setBody(req, body, ctype)
	l.address(req)
	return req
}

// address sets where a request of this leg is sent from and to.
func (l *leg) address(req *sip.Request) {
	tp := l.realm.transportFor(l.transport)
	req.SetTransport(tp)
	req.Laddr = l.realm.laddr(tp)
	switch {
	case l.dest != "":
		req.SetDestination(l.dest)
	case len(l.routeSet) > 0:
		req.SetDestination(hostPort(&l.routeSet[0], tp))
	default:
		req.SetDestination(hostPort(&l.remoteTarget, tp))
	}
}

// ack builds the ACK for a 2xx to the INVITE with CSeq seq.
func (l *leg) ack(seq uint32, body []byte, ctype string) *sip.Request {
	return l.requestCSeq(sip.ACK, seq, body, ctype)
}

// sendAck builds and sends the ACK for a 2xx to the INVITE with CSeq seq
// and returns what it takes to send it again.
func (l *leg) sendAck(seq uint32, body []byte) (sentAck, error) {
	ack := l.ack(seq, body, "application/sdp")
	branch, _ := ack.Via().Params.Get("branch")
	return sentAck{seq: seq, branch: branch, body: body}, l.write(ack)
}

// resendAck sends an ACK again, unchanged (seq 0: none was sent).
func (l *leg) resendAck(a sentAck) {
	if a.seq == 0 {
		return
	}
	_ = l.write(l.requestBranch(sip.ACK, a.seq, a.branch, a.body, "application/sdp"))
}

// cancel builds a CANCEL for the leg's outstanding INVITE (RFC 3261 9.1).
func (l *leg) cancel() *sip.Request {
	inv := l.out
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(inv.Via().Clone())
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	return req
}

// respond builds a response on leg A to the request req of that leg.
// Dialog-creating and target-refresh responses carry sbcd's Contact.
func (l *leg) respond(req *sip.Request, code int, body []byte, ctype string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
	// Record-Route is a same-realm thing; sbcd is the dialog endpoint.
	res.RemoveHeader("Record-Route")
	if to := res.To(); to != nil && code > 100 {
		if _, ok := to.Params.Get("tag"); !ok || l.localTag != "" {
			to.Params.Remove("tag")
			to.Params.Add("tag", l.localTag)
		}
	}
	m := req.Method
	if code > 100 && code < 300 && (m == sip.INVITE || m == sip.UPDATE || m == sip.SUBSCRIBE || m == sip.NOTIFY) {
		res.AppendHeader(l.realm.contact(l.realm.transportFor(l.transport)))
	}
	setBody(res, body, ctype)
	return res
}

// send starts a client transaction for req and reports its end to the
// call. Responses reach the call through the realm's ordered hook.
func (l *leg) send(c *call, req *sip.Request) error {
	_, err := l.start(c, req)
	return err
}

// start is send that also returns the transaction.
func (l *leg) start(c *call, req *sip.Request) (*sip.ClientTx, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	l.realm.observe(Out, req)
	tx, err := l.realm.txl.Request(ctx, req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("send %s: %w", req.Method, err)
	}
	seq := req.CSeq().SeqNo
	method := req.Method
	side, callID := l.side, l.callID
	l.realm.b.wg.Go(func() {
		defer cancel()
		defer tx.Terminate()
		for {
			select {
			case res := <-tx.Responses():
				// The call already has the response from the ordered hook.
				// Once it is final the transaction has nothing left to do,
				// except re-ACKing a retransmitted non-2xx to an INVITE.
				if res != nil && res.StatusCode >= 200 && (method != sip.INVITE || res.IsSuccess()) {
					if method == sip.INVITE {
						c.post(evInviteDelivered{side: side, callID: callID})
					}
					return
				}
			case <-tx.Done():
				err := tx.Err()
				if errors.Is(err, sip.ErrTransactionTerminated) {
					// The normal end after a final response. Over a
					// reliable transport (TCP, TLS, WebSocket) an INVITE
					// transaction ends at once after a non-2xx, and this
					// can be seen before the call has the response from
					// the ordered hook: reported as a failure it turned
					// a callee's 486 into a 504 (or a rejected re-INVITE
					// into a torn-down call).
					return
				}
				c.post(evTxDone{side: side, callID: callID, seq: seq, method: method, err: err})
				return
			case <-l.realm.b.done:
				return
			}
		}
	})
	return tx, nil
}

// write sends a message outside any transaction (ACK for 2xx).
func (l *leg) write(req *sip.Request) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := l.realm.tpl.ClientRequestConnection(ctx, req)
	if err != nil {
		return fmt.Errorf("write %s: %w", req.Method, err)
	}
	l.realm.observe(Out, req)
	return conn.WriteMsg(req)
}

func setBody(m sip.Message, body []byte, ctype string) {
	if len(body) > 0 {
		if ctype == "" {
			ctype = "application/sdp"
		}
		ct := sip.ContentTypeHeader(ctype)
		m.AppendHeader(&ct)
		m.SetBody(body)
		return
	}
	m.SetBody(nil)
}

// hostPort gives the host:port a URI is reached at.
func hostPort(u *sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = int(sip.DefaultPort(transport))
	}
	host := u.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, port)
}
