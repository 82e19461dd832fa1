package plc

import "errors"

// ErrRate reports an unsupported sample rate.
var ErrRate = errors.New("plc: unsupported sample rate")
