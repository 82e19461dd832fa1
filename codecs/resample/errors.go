package resample

import "errors"

var (
	// ErrRate reports a conversion between unsupported sample rates.
	ErrRate = errors.New("resample: unsupported sample rate")
	// ErrShortBuffer reports an output buffer smaller than OutputLen.
	ErrShortBuffer = errors.New("resample: output buffer too small")
)
