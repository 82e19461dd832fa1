package wav

import "errors"

var (
	// ErrInvalid reports a file that is not well-formed RIFF/WAVE.
	ErrInvalid = errors.New("wav: invalid file")
	// ErrUnsupported reports a well-formed file in an encoding this
	// package does not decode (e.g. float or 24-bit PCM).
	ErrUnsupported = errors.New("wav: unsupported format")
	// ErrTruncated reports a file that ends inside a header or before the
	// declared end of its data.
	ErrTruncated = errors.New("wav: truncated file")
	// ErrFormat reports bad writer parameters or a sample count that is
	// not a whole number of frames.
	ErrFormat = errors.New("wav: bad format parameters")
	// ErrTooLarge reports a recording that would exceed the 4 GiB RIFF limit.
	ErrTooLarge = errors.New("wav: file too large for RIFF")
	// ErrClosed reports a write after Close.
	ErrClosed = errors.New("wav: writer closed")
)
