package ng

import "errors"

// Bencode decoding errors. Every error returned by Decode wraps one of these.
var (
	// ErrTruncated means the input ended inside a value.
	ErrTruncated = errors.New("bencode: truncated input")
	// ErrSyntax means a byte that cannot start or continue a value.
	ErrSyntax = errors.New("bencode: syntax error")
	// ErrTooDeep means lists and dictionaries nest deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("bencode: nesting too deep")
	// ErrTooLarge means the input or one of its values exceeds a size limit.
	ErrTooLarge = errors.New("bencode: too large")
	// ErrTrailing means bytes follow the top-level value.
	ErrTrailing = errors.New("bencode: trailing data")
)

// Server errors.
var (
	// ErrClosed is returned by Serve after Close.
	ErrClosed = errors.New("ng: server closed")
	// ErrServing is returned by a second concurrent Serve.
	ErrServing = errors.New("ng: server already serving")
	// ErrNoCookie means a datagram has no "<cookie> " prefix; it is dropped.
	ErrNoCookie = errors.New("ng: no cookie")
)
