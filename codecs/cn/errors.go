package cn

import "errors"

var (
	// ErrEmpty reports a CN payload without its level byte.
	ErrEmpty = errors.New("cn: empty payload")
	// ErrParams reports parameters out of range.
	ErrParams = errors.New("cn: bad parameters")
	// ErrBufferTooSmall reports a destination too small for the payload.
	ErrBufferTooSmall = errors.New("cn: destination buffer too small")
)
