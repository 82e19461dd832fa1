package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/cdr"
	"github.com/openborder/openborder/cdr/radius"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc"
)

// cdrTimeout bounds how long a call's release waits for its records to be
// on disk; a stuck disk delays releases by at most this, never forever.
const cdrTimeout = 5 * time.Second

// cdrSink turns ended calls into call detail records: written durably to
// the CDR files before the call is released, and sent as RADIUS
// accounting Start (on answer) and Stop.
type cdrSink struct {
	files  *cdr.Writer
	radius *radius.Client
	log    *slog.Logger
}

// newCDRSink opens the sinks the policy configures (nil when none).
func newCDRSink(c policy.CDRConfig, log *slog.Logger) (*cdrSink, error) {
	cfg := c.Sinks()
	if cfg.Files.Dir == "" && len(cfg.RADIUS.Servers) == 0 {
		return nil, nil
	}
	s := &cdrSink{log: log}
	if cfg.Files.Dir != "" {
		w, err := cdr.NewWriter(cfg.Files, log)
		if err != nil {
			return nil, fmt.Errorf("cdr files: %w", err)
		}
		s.files = w
	}
	if len(cfg.RADIUS.Servers) > 0 {
		r, err := radius.New(cfg.RADIUS, log)
		if err != nil {
			if s.files != nil {
				_ = s.files.Close()
			}
			return nil, fmt.Errorf("cdr radius: %w", err)
		}
		s.radius = r
	}
	return s, nil
}

// Close flushes the files and stops accounting (queued requests go to the spool).
func (s *cdrSink) Close() {
	if s.files != nil {
		_ = s.files.Close()
	}
	if s.radius != nil {
		_ = s.radius.Close()
	}
}

func (s *cdrSink) Message(sbc.MessageEvent)                   {}
func (s *cdrSink) Rejected(string, sip.RequestMethod, string) {}

func (s *cdrSink) AttemptStarted(*sbc.CallRecord) {}

func (s *cdrSink) CallAnswered(rec *sbc.CallRecord) {
	if s.radius == nil || rec.Method != string(sip.INVITE) {
		return
	}
	recs := cdrRecords(rec)
	s.radius.Start(recs[len(recs)-1])
}

func (s *cdrSink) CallEnded(rec *sbc.CallRecord) {
	if rec.Method != string(sip.INVITE) {
		return
	}
	for _, r := range cdrRecords(rec) {
		if s.files != nil {
			ctx, cancel := context.WithTimeout(context.Background(), cdrTimeout)
			err := s.files.Write(ctx, r)
			cancel()
			if err != nil {
				s.log.Error("cdr not written", "err", err, "id", r.CallID, "attempt", r.Attempt)
			}
		}
		if s.radius != nil {
			s.radius.Stop(r)
		}
	}
}

// cdrRecords makes one record per attempt of a call (one record with
// attempt 0 when sbcd refused the call before trying anyone).
func cdrRecords(rec *sbc.CallRecord) []*cdr.Record {
	base := cdr.Record{
		CallID: rec.ID, ACallID: rec.ACallID,
		AFromUser: rec.CallerIn, AToUser: rec.CalleeIn, ARURIUser: rec.CalleeIn,
		IngressRealm: rec.ARealm, InviteTime: rec.Start, EndTime: rec.End,
		Cause: cdrCause(rec), Side: cdr.Side(rec.Side()), SIPCode: rec.Status, SIPReason: rec.Reason,
		DTMF: rec.Digits, Account: rec.Account,
	}
	if len(rec.Attempts) == 0 {
		r := base
		r.Derive()
		return []*cdr.Record{&r}
	}
	out := make([]*cdr.Record, 0, len(rec.Attempts))
	for i, at := range rec.Attempts {
		r := base
		r.Attempt = i + 1
		r.EgressRealm, r.Trunk, r.Gateway = at.Realm, at.Trunk, at.Gateway
		r.BFromUser, r.BToUser, r.BRURIUser = rec.CallerOut, rec.CalleeOut, rec.CalleeOut
		r.SIPCode = at.Status
		if i < len(rec.Attempts)-1 {
			// An earlier attempt: it failed and the next gateway was tried.
			r.Cause, r.Side, r.SIPReason = cdr.CauseRerouted, cdr.SideCallee, ""
			r.EndTime = rec.Attempts[i+1].Start
		} else {
			r.BCallID = rec.BCallID
			r.RingTime, r.AnswerTime = rec.Ringing, rec.Answered
			m := rec.Media
			r.AMedia, r.BMedia = cdrMedia(m, sbc.SideA), cdrMedia(m, sbc.SideB)
			r.ACodec, r.BCodec = m.Codec[sbc.SideA], m.Codec[sbc.SideB]
			r.Transcoded, r.RecordingPath = m.Transcoded, m.RecordingPath
		}
		r.Derive()
		out = append(out, &r)
	}
	return out
}

// cdrMedia is one leg's media statistics for a CDR, with the MOS
// estimated for what that leg's peer sent (0: nothing measured).
func cdrMedia(m sbc.MediaStats, side sbc.Side) cdr.Media {
	return cdr.Media{Packets: m.RTPIn[side], Bytes: m.BytesIn[side], Lost: m.Lost[side],
		JitterMs: float64(m.Jitter[side]) / float64(time.Millisecond), MOS: m.LegMOS[side]}
}

// cdrCause maps the B2BUA's end causes onto CDR causes.
func cdrCause(rec *sbc.CallRecord) cdr.Cause {
	switch rec.Cause {
	case "caller_bye", "callee_bye":
		return cdr.CauseNormal
	case "cancelled":
		return cdr.CauseCancelled
	case "rejected":
		return cdr.CauseRejected
	case "media_timeout":
		return cdr.CauseMediaTimeout
	case "session_expired":
		return cdr.CauseSessionTimeout
	case "drain", "shutdown":
		return cdr.CauseDrain
	case "transfer", "transferred":
		return cdr.CauseTransfer
	case "failed":
		switch rec.Status {
		case 486, 600:
			return cdr.CauseBusy
		case 408, 480:
			return cdr.CauseNoAnswer
		}
		return cdr.CauseFailed
	}
	// The set is open: admin, redirected, no_ack, dialog_gone, ...
	return cdr.Cause(rec.Cause)
}

// observers fans the B2BUA's events out, in order.
type observers []sbc.Observer

func (o observers) Message(ev sbc.MessageEvent) {
	for _, x := range o {
		x.Message(ev)
	}
}

func (o observers) Rejected(realm string, method sip.RequestMethod, reason string) {
	for _, x := range o {
		x.Rejected(realm, method, reason)
	}
}

func (o observers) AttemptStarted(rec *sbc.CallRecord) {
	for _, x := range o {
		x.AttemptStarted(rec)
	}
}

func (o observers) CallAnswered(rec *sbc.CallRecord) {
	for _, x := range o {
		x.CallAnswered(rec)
	}
}

func (o observers) CallEnded(rec *sbc.CallRecord) {
	for _, x := range o {
		x.CallEnded(rec)
	}
}
