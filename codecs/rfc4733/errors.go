package rfc4733

import "errors"

var (
	// ErrShortPayload reports a payload shorter than one 4-byte event block.
	ErrShortPayload = errors.New("rfc4733: payload shorter than 4 bytes")
	// ErrPayloadLength reports a payload whose length is not a multiple of 4.
	ErrPayloadLength = errors.New("rfc4733: payload length not a multiple of 4")
	// ErrBadEvent reports an event code, key or volume out of range.
	ErrBadEvent = errors.New("rfc4733: bad event")
	// ErrBufferTooSmall reports a destination buffer that cannot hold the result.
	ErrBufferTooSmall = errors.New("rfc4733: destination buffer too small")
	// ErrRedundancy reports a malformed RFC 2198 redundant payload.
	ErrRedundancy = errors.New("rfc4733: bad redundant payload")
	// ErrConfig reports an invalid Sender or Receiver configuration.
	ErrConfig = errors.New("rfc4733: bad configuration")
	// ErrState reports a Sender call out of order (e.g. Update before Start).
	ErrState = errors.New("rfc4733: sender not in a state for this call")
)
