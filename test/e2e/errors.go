package e2e

import "errors"

var (
	// ErrBadMessage is returned for text that is not a SIP message.
	ErrBadMessage = errors.New("e2e: malformed SIP message")
	// ErrTimeout is returned when a process or log line did not arrive in time.
	ErrTimeout = errors.New("e2e: timed out")
	// ErrExited is returned when sbcd exited while a test waited on it.
	ErrExited = errors.New("e2e: sbcd exited")
	// ErrBadStats is returned for a sipp statistics file that cannot be read.
	ErrBadStats = errors.New("e2e: malformed sipp statistics")
)
