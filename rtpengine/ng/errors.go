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

// Client errors.
var (
	// ErrNoReply means the node did not answer within the client's tries.
	ErrNoReply = errors.New("ng: no reply from media node")
	// ErrRefused means the node answered with result "error"; the error
	// text carries its error-reason.
	ErrRefused = errors.New("ng: media node refused the command")
	// ErrBadReply means the node's reply could not be understood.
	ErrBadReply = errors.New("ng: bad reply from media node")
	// ErrClientClosed is returned by commands on a closed Client.
	ErrClientClosed = errors.New("ng: client closed")
)
