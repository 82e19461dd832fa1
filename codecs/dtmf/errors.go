package dtmf

import "errors"

var (
	// ErrRate reports an unsupported sample rate.
	ErrRate = errors.New("dtmf: unsupported sample rate")
	// ErrConfig reports an invalid configuration value.
	ErrConfig = errors.New("dtmf: bad configuration")
	// ErrKey reports a character that is not a DTMF key.
	ErrKey = errors.New("dtmf: not a DTMF key")
)
