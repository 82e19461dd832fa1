package cac

import "errors"

// Sentinel errors wrapped by refusals.
var (
	// ErrCalls means a concurrent-call limit is reached.
	ErrCalls = errors.New("cac: concurrent call limit")
	// ErrRate means a calls-per-second limit is reached.
	ErrRate = errors.New("cac: call rate limit")
	// ErrBlocked means the account is blocked after a fraud rule breach.
	ErrBlocked = errors.New("cac: account blocked")
	// ErrFraud means this call breaches a fraud rule (the account is now blocked).
	ErrFraud = errors.New("cac: fraud rule breached")
)
