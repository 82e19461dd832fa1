package capture

import "errors"

// Errors returned by the package. They are wrapped with context; test with
// errors.Is.
var (
	// ErrConfig means a Config field is invalid.
	ErrConfig = errors.New("capture: bad configuration")
	// ErrFilter means a filter expression cannot be parsed.
	ErrFilter = errors.New("capture: bad filter")
	// ErrAddress means a record's addresses cannot be written as a packet.
	ErrAddress = errors.New("capture: bad address")
	// ErrTooLarge means a payload exceeds MaxPayload.
	ErrTooLarge = errors.New("capture: payload too large")
	// ErrNotFound means no capture has the given id.
	ErrNotFound = errors.New("capture: no such capture")
	// ErrRunning means the capture has not finished yet.
	ErrRunning = errors.New("capture: capture still running")
	// ErrTooMany means the limit of concurrently running captures is reached.
	ErrTooMany = errors.New("capture: too many running captures")
	// ErrNoDir means the Capturer has no capture directory configured.
	ErrNoDir = errors.New("capture: no capture directory configured")
	// ErrRingOff means the ring buffer is disabled.
	ErrRingOff = errors.New("capture: ring buffer disabled")
	// ErrClosed means the Capturer is closed.
	ErrClosed = errors.New("capture: closed")
)
