package cdr

import (
	"context"
	"time"
)

// Cause says why a call attempt ended. The set is open: the constants below
// are the causes sbcd writes today; readers must accept others.
type Cause string

// Disconnect causes.
const (
	CauseNormal         Cause = "normal"          // answered, then a BYE from either side
	CauseCancelled      Cause = "cancelled"       // the caller cancelled before an answer
	CauseBusy           Cause = "busy"            // 486 or 600 from the callee
	CauseNoAnswer       Cause = "no-answer"       // 408/480 or the no-answer timer
	CauseRejected       Cause = "rejected"        // refused by policy or by sbcd (4xx from sbcd)
	CauseFailed         Cause = "failed"          // any other final failure (5xx, 6xx, transport)
	CauseMediaTimeout   Cause = "media-timeout"   // no media for the configured time
	CauseSessionTimeout Cause = "session-timeout" // session timer (RFC 4028) expired
	CauseTransfer       Cause = "transfer"        // ended by a completed transfer (REFER)
	CauseDrain          Cause = "drain"           // ended by sbcd shutting down or draining
	CauseRerouted       Cause = "rerouted"        // this attempt failed and the next candidate was tried
)

// Side says which party ended a call attempt.
type Side string

// Disconnect sides.
const (
	SideCaller Side = "caller" // the A party (calling side)
	SideCallee Side = "callee" // the B party (called side, trunk or gateway)
	SideSBC    Side = "sbc"    // sbcd itself (timers, policy, drain)
)

// Media holds the statistics of one media leg, as measured by sbcd on the
// packets it received from that leg.
type Media struct {
	Packets  uint64  // RTP packets received
	Bytes    uint64  // RTP payload bytes received
	Lost     uint64  // packets lost (sequence gaps)
	JitterMs float64 // interarrival jitter (RFC 3550), milliseconds
	MOS      float64 // E-model estimate, 1.0 to 4.5; 0 when not measured
}

// Record is the call detail record of one call attempt. A call routed to a
// second gateway after a failure produces two records with the same CallID
// and attempt numbers 1 and 2.
//
// The CSV columns and JSON keys are listed by [Columns], in this order, and
// documented in docs/cdr.md. Times are written in UTC, RFC 3339 with
// milliseconds; durations as whole milliseconds.
type Record struct {
	CallID  string // sbcd's own identifier of the call (shared by its attempts)
	ACallID string // SIP Call-ID of the caller's dialog
	BCallID string // SIP Call-ID of the dialog sbcd created towards the callee
	Attempt int    // 1 for the first gateway tried, 2 for the next, ...

	AFromUser string // From user part as received from the caller
	AToUser   string // To user part as received from the caller
	ARURIUser string // Request-URI user part as received from the caller
	BFromUser string // From user part sent to the callee (after normalisation)
	BToUser   string // To user part sent to the callee
	BRURIUser string // Request-URI user part sent to the callee

	IngressRealm string // realm the INVITE came in on
	EgressRealm  string // realm the attempt went out on
	Trunk        string // trunk chosen by routing
	Gateway      string // gateway address tried (host:port)

	InviteTime time.Time // INVITE received from the caller
	RingTime   time.Time // first 180/183 from the callee; zero if none
	AnswerTime time.Time // 200 OK from the callee; zero if not answered
	EndTime    time.Time // attempt ended (final failure, CANCEL or BYE)

	SetupTime time.Duration // post-dial delay: InviteTime to RingTime, or to AnswerTime without ringing
	Duration  time.Duration // AnswerTime to EndTime; zero if not answered

	Cause     Cause  // why the attempt ended
	Side      Side   // who ended it
	SIPCode   int    // final SIP status of the attempt (200 for an answered call)
	SIPReason string // reason phrase of that status

	ACodec string // codec on the caller's leg, e.g. "PCMU/8000"
	BCodec string // codec on the callee's leg
	AMedia Media  // media received from the caller
	BMedia Media  // media received from the callee

	Transcoded    bool   // media was transcoded between the legs
	RecordingPath string // path of the call recording; empty if not recorded
	DTMF          string // DTMF digits seen during the call, in order
	Account       string // user the caller authenticated as (SIP digest); empty when none
}

// Derive fills SetupTime and Duration from the times, where they are zero.
func (r *Record) Derive() {
	if r.SetupTime == 0 && !r.InviteTime.IsZero() {
		switch {
		case !r.RingTime.IsZero():
			r.SetupTime = r.RingTime.Sub(r.InviteTime)
		case !r.AnswerTime.IsZero():
			r.SetupTime = r.AnswerTime.Sub(r.InviteTime)
		}
		if r.SetupTime < 0 {
			r.SetupTime = 0
		}
	}
	if r.Duration == 0 && !r.AnswerTime.IsZero() && !r.EndTime.IsZero() {
		r.Duration = max(r.EndTime.Sub(r.AnswerTime), 0)
	}
}

// Answered reports whether the attempt was answered.
func (r *Record) Answered() bool { return !r.AnswerTime.IsZero() }

// Sink receives one record per call attempt, when the attempt has ended.
// Write returns once the sink has taken responsibility for the record (for
// the file Writer: once it is on disk). It is safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, rec *Record) error
}
