package g722

import "errors"

var (
	// ErrOddSamples reports PCM input whose length is not a multiple of
	// two: each code byte stands for two 16 kHz samples.
	ErrOddSamples = errors.New("g722: odd number of samples")
	// ErrShortBuffer reports an output buffer too small for the result.
	ErrShortBuffer = errors.New("g722: output buffer too small")
)
