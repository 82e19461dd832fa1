package guard

import (
	"errors"
	"fmt"
	"io"
)

// Errors returned by the blacklist API.
var (
	// ErrBadAddress is an address that is not an IP.
	ErrBadAddress = errors.New("guard: not an IP address")
	// ErrNotListed is an unblock of an address that is not blacklisted.
	ErrNotListed = errors.New("guard: address is not blacklisted")
	// ErrBadDuration is a manual block with a negative duration.
	ErrBadDuration = errors.New("guard: duration must not be negative")
	// ErrSlowMessage closes a stream whose message did not complete in
	// time. The stream errors wrap io.EOF: the SIP stack then takes them
	// for an ordinary close and logs nothing per connection (they are
	// counted in the guard's statistics instead).
	ErrSlowMessage = fmt.Errorf("guard: message not completed in time (%w)", io.EOF)
	// ErrFraming closes a stream whose framing cannot be recovered.
	ErrFraming = fmt.Errorf("guard: stream framing lost (%w)", io.EOF)
	// ErrIdle closes a stream idle for longer than security.tcp.idle_timeout.
	ErrIdle = fmt.Errorf("guard: connection idle (%w)", io.EOF)
)
