package sbc

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrMediaCapacity means the media plane has no ports left.
	ErrMediaCapacity = errors.New("media capacity exhausted")
	// ErrMediaSDP means an SDP body could not be anchored.
	ErrMediaSDP = errors.New("unacceptable SDP")
	// ErrClosed is returned by operations on a stopped B2BUA.
	ErrClosed = errors.New("b2bua closed")
	// ErrNoRealm means a configured realm has no listener of the needed transport.
	ErrNoRealm = errors.New("no such realm or transport")
)

// Rejection is a request refused with a SIP status. It is mapped to a
// response in exactly one place (call.reject / respondError) and counted under Label.
type Rejection struct {
	Code   int
	Reason string
	// Label is the metric/log reason: "no_route", "media", "loop", ...
	Label string
	// RetryAfter, when non-zero, becomes a Retry-After header (seconds).
	RetryAfter int
	// SIPReason, when set, becomes a Reason header (RFC 3326) on the response.
	SIPReason string
	Err       error
}

func (r *Rejection) Error() string {
	if r.Err != nil {
		return fmt.Sprintf("%d %s (%s): %v", r.Code, r.Reason, r.Label, r.Err)
	}
	return fmt.Sprintf("%d %s (%s)", r.Code, r.Reason, r.Label)
}

func (r *Rejection) Unwrap() error { return r.Err }

func reject(code int, label string, err error) *Rejection {
	return &Rejection{Code: code, Reason: reasonPhrase(code), Label: label, Err: err}
}

// mediaRejection classifies a media error.
func mediaRejection(err error) *Rejection {
	if r := conferenceRejection(err); r != nil {
		return r
	}
	switch {
	case errors.Is(err, ErrMediaCapacity):
		return reject(503, "media_capacity", err)
	case errors.Is(err, ErrMediaSDP):
		return reject(488, "media_sdp", err)
	default:
		return reject(500, "media", err)
	}
}

var phrases = map[int]string{
	100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
	200: "OK", 202: "Accepted", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
	305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
	403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
	408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
	415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required",
	422: "Session Interval Too Small", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
	481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
	485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event",
	491: "Request Pending", 493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented",
	502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
	513: "Message Too Large", 580: "Precondition Failure", 600: "Busy Everywhere", 603: "Decline",
	604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}

// reasonPhrase gives sbcd's own reason phrase for a status: phrases from
// the far realm are not passed through.
func reasonPhrase(code int) string {
	if p, ok := phrases[code]; ok {
		return p
	}
	switch code / 100 {
	case 1:
		return "Session Progress"
	case 2:
		return "OK"
	case 3:
		return "Redirection"
	case 4:
		return "Request Failure"
	case 5:
		return "Server Failure"
	}
	return "Global Failure"
}
