package sbc

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// Observer sees what the B2BUA does: every SIP message it receives or
// sends, every request it refuses itself, and one record per ended call.
// It is how metrics, CDRs and capture learn about signalling without the
// B2BUA knowing them. Methods are called on signalling goroutines (a call's
// actor, a transport reader) and must return quickly without blocking;
// an Observer that needs slow work queues it.
type Observer interface {
	// Message is called for each SIP message read from or written to a
	// realm's sockets (sipgo's own retransmissions are not seen). The
	// message must not be kept or changed after Message returns.
	Message(ev MessageEvent)
	// Rejected is called when sbcd answers a request with an error of its
	// own making (no route, overload, loop, malformed ...): reason is a
	// stable label such as "no_route", "draining", "loop", "bad_request".
	Rejected(realm string, method sip.RequestMethod, reason string)
	// AttemptStarted is called when sbcd sends a call's INVITE to a
	// target (a gateway or registered contact), with the record so far:
	// both legs' Call-IDs and the parties before and after normalisation.
	AttemptStarted(rec *CallRecord)
	// CallAnswered is called once when a call is answered (leg B's 2xx),
	// with the record so far (End is zero).
	CallAnswered(rec *CallRecord)
	// CallEnded is called once per ended call or relayed transaction, on
	// the call's actor, after its media is released and before it leaves
	// the call registry: an observer that writes the record durably
	// before returning (CDRs) holds the call's release until then, so
	// it must bound its wait. The record is the observer's to keep.
	CallEnded(rec *CallRecord)
}

// Direction tells whether a message came in or went out.
type Direction uint8

// Message directions.
const (
	In Direction = iota
	Out
)

func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// MessageEvent is one SIP message on a realm.
type MessageEvent struct {
	Realm string
	Dir   Direction
	// Transport is UDP, TCP or TLS.
	Transport string
	Msg       sip.Message
	// Local is sbcd's own address the message left from, when the message
	// does not carry it (responses are reported before the transport
	// stamps them). Empty: Msg.Source() of an outgoing message.
	Local string
}

// Attempt is one B-leg attempt of a call: a gateway or registered contact
// tried, and the final status it gave (0: none, the call ended first).
type Attempt struct {
	Realm   string
	Trunk   string
	Gateway string
	Start   time.Time
	Status  int
}

// CallRecord describes an ended call (or a relayed non-INVITE transaction
// when Method is not INVITE).
type CallRecord struct {
	// ID is sbcd's own identifier (also the media session's).
	ID     string
	Method string
	Route  string
	// ACallID and BCallID are the SIP Call-IDs of the two legs (BCallID
	// of the last attempt; empty when no attempt was made).
	ACallID, BCallID string
	ARealm, BRealm   string
	// Trunk and Gateway are those of the last attempt.
	Trunk, Gateway string
	// Caller and Callee before normalisation (From user and R-URI user as
	// received) and after (as sent on leg B).
	CallerIn, CalleeIn   string
	CallerOut, CalleeOut string
	// Start is the INVITE's arrival, Ringing the first 18x from leg B,
	// Answered the 2xx, End the release. Zero when it did not happen.
	Start, Ringing, Answered, End time.Time
	// Cause is why the call ended: caller_bye, callee_bye, cancelled,
	// rejected, failed, redirected, media_timeout, session_expired,
	// no_ack, dialog_gone, draining, completed, ...
	Cause string
	// Reason is the rejection label when sbcd refused the call itself.
	Reason string
	// Account is the digest user the caller authenticated as (empty: none).
	Account string
	// Status is the final SIP status given to the caller.
	Status   int
	Attempts []Attempt
	Media    MediaStats
	// Digits are the DTMF digits sent by either leg, in order (dtmf.go).
	Digits string
}

// Side of the disconnection: "caller", "callee" or "sbc".
func (r *CallRecord) Side() string {
	switch r.Cause {
	case "caller_bye", "cancelled":
		return "caller"
	case "callee_bye", "redirected", "completed":
		return "callee"
	case "failed":
		if len(r.Attempts) > 0 && r.Attempts[len(r.Attempts)-1].Status != 0 {
			return "callee"
		}
	}
	return "sbc"
}

// Duration is the answered time of the call.
func (r *CallRecord) Duration() time.Duration {
	if r.Answered.IsZero() || r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Answered)
}

// nopObserver is the Observer of a B2BUA configured without one.
type nopObserver struct{}

func (nopObserver) Message(MessageEvent)                       {}
func (nopObserver) Rejected(string, sip.RequestMethod, string) {}
func (nopObserver) AttemptStarted(*CallRecord)                 {}
func (nopObserver) CallAnswered(*CallRecord)                   {}
func (nopObserver) CallEnded(*CallRecord)                      {}

// serverTx is a server transaction that reports its responses.
type serverTx struct {
	*sip.ServerTx
	r *realm
	// account is the user the request authenticated as (empty: none).
	account string
}

// Respond sends res and reports it.
func (t *serverTx) Respond(res *sip.Response) error {
	t.r.b.obs.Message(MessageEvent{Realm: t.r.name, Dir: Out, Transport: res.Transport(), Msg: res,
		Local: t.Origin().Destination()})
	return t.ServerTx.Respond(res)
}

// observe reports a message of this realm.
func (r *realm) observe(dir Direction, m sip.Message) {
	r.b.obs.Message(MessageEvent{Realm: r.name, Dir: dir, Transport: m.Transport(), Msg: m})
}
