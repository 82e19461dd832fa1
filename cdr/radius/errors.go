package radius

import "errors"

var (
	// ErrMalformed wraps every problem found when decoding a packet.
	ErrMalformed = errors.New("radius: malformed packet")
	// ErrTooLong is returned when a packet or attribute exceeds its size limit.
	ErrTooLong = errors.New("radius: too long")
	// ErrNoAnswer is returned when no server answered a request.
	ErrNoAnswer = errors.New("radius: no server answered")
	// ErrSpoolFull is returned when a request does not fit in the spool.
	ErrSpoolFull = errors.New("radius: spool full")
	// ErrSpool wraps a failure to read or write the spool directory.
	ErrSpool = errors.New("radius: spool")
	// ErrClosed is returned by operations on a closed Client.
	ErrClosed = errors.New("radius: client closed")
)
