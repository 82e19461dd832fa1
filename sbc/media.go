package sbc

import (
	"context"
	"time"
)

// Side names a leg of a call: A faces the caller, B the callee.
type Side int

// The two legs of a call.
const (
	SideA Side = iota
	SideB
)

func (s Side) String() string {
	if s == SideA {
		return "A"
	}
	return "B"
}

// Other returns the opposite leg.
func (s Side) Other() Side { return 1 - s }

// MediaProfile says where each leg's media lives and what it may carry.
type MediaProfile struct {
	// Realm is the realm of each leg, indexed by Side.
	Realm [2]string
	// Codecs restricts the codecs offered to each leg (nil = no restriction).
	Codecs [2][]string
	// SRTP is the media security of each leg (none, sdes, dtls, optional).
	SRTP [2]string
	// Record asks the media plane to record the call (a realm's
	// media.record or the trunk's record flag).
	Record bool
	// DTMF is each leg's DTMF mode (rfc4733, info or inband; empty: no
	// DTMF processing) and DTMFSuppress mutes in-band digits once
	// detected (dtmf.go).
	DTMF         [2]string
	DTMFSuppress bool
}

// MediaStats is what the media plane reports when a call ends.
type MediaStats struct {
	// RTPIn counts RTP packets received from each leg's peer, BytesIn
	// their bytes; Lost and Jitter come from their sequence (RFC 3550).
	RTPIn   [2]uint64
	BytesIn [2]uint64
	Lost    [2]uint64
	Jitter  [2]time.Duration
	// MOS is the estimated mean opinion score of the worse direction (0 if unknown).
	MOS float64
	// LegMOS is the estimate for what each leg's peer sent (0 if unknown).
	LegMOS [2]float64
	// Codec is the codec negotiated on each leg ("PCMU/8000"; "" if none
	// was).
	Codec [2]string
	// Transcoded: the media plane converted between the legs' codecs.
	Transcoded bool
	// RecordingPath is the call recording's main file ("" if not recorded).
	RecordingPath string
}

// Media anchors a call's media on sbcd's own ports. The B2BUA calls it from
// the call's actor; implementations must be safe for concurrent calls.
//
// Errors should wrap ErrMediaCapacity (no ports: the call gets 503) or
// ErrMediaSDP (unusable SDP: 488) where they apply.
type Media interface {
	// Offer anchors an SDP offer received on leg from and returns the
	// offer to send on the other leg.
	Offer(ctx context.Context, call string, from Side, sdp []byte, p MediaProfile) ([]byte, error)
	// Answer anchors an SDP answer received on leg from and returns the
	// answer to send on the other leg.
	Answer(ctx context.Context, call string, from Side, sdp []byte, p MediaProfile) ([]byte, error)
	// Serve answers an offer received on leg A with a built-in service
	// ("echo" or "tone") and returns the answer.
	Serve(ctx context.Context, call, service string, sdp []byte, realm string) ([]byte, error)
	// Delete releases the call's media and returns its statistics.
	Delete(call string) MediaStats
}
