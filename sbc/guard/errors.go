package guard

import "errors"

// Errors returned by the blacklist API.
var (
	// ErrBadAddress is an address that is not an IP.
	ErrBadAddress = errors.New("guard: not an IP address")
	// ErrNotListed is an unblock of an address that is not blacklisted.
	ErrNotListed = errors.New("guard: address is not blacklisted")
	// ErrBadDuration is a manual block with a negative duration.
	ErrBadDuration = errors.New("guard: duration must not be negative")
	// ErrSlowMessage closes a stream whose message did not complete in time.
	ErrSlowMessage = errors.New("guard: message not completed in time")
	// ErrFraming closes a stream whose framing cannot be recovered.
	ErrFraming = errors.New("guard: stream framing lost")
)
