package hep

import "errors"

// Errors returned by Append, Decode and NewSender. They are wrapped with
// context; test with errors.Is.
var (
	// ErrShort means the buffer ends before the header or a chunk does.
	ErrShort = errors.New("hep: packet truncated")
	// ErrMagic means the packet does not start with "HEP3".
	ErrMagic = errors.New("hep: not a HEPv3 packet")
	// ErrLength means a length field disagrees with the bytes present.
	ErrLength = errors.New("hep: bad length")
	// ErrChunk means a known chunk carries a value of the wrong size or kind.
	ErrChunk = errors.New("hep: bad chunk")
	// ErrMissing means a chunk the packet cannot do without is absent.
	ErrMissing = errors.New("hep: required chunk missing")
	// ErrAddress means the source and destination are invalid or of
	// different IP families.
	ErrAddress = errors.New("hep: bad address")
	// ErrTooLarge means the encoded packet would exceed 65535 bytes.
	ErrTooLarge = errors.New("hep: packet too large")
	// ErrConfig means a SenderConfig field is invalid.
	ErrConfig = errors.New("hep: bad configuration")
)
