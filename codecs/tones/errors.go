package tones

import "errors"

var (
	// ErrUnknown reports a country or tone that the tables do not hold.
	ErrUnknown = errors.New("tones: unknown tone")
	// ErrRate reports an unsupported sample rate.
	ErrRate = errors.New("tones: unsupported sample rate")
	// ErrTone reports a tone definition that cannot be played.
	ErrTone = errors.New("tones: bad tone definition")
)
