package cdr

import "errors"

var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("cdr: writer closed")
	// ErrInvalidConfig wraps every problem reported by Config.Validate.
	ErrInvalidConfig = errors.New("cdr: invalid config")
	// ErrWrite wraps a failure to write or synchronise a CDR file.
	ErrWrite = errors.New("cdr: write failed")
	// ErrRotate wraps a failure to rotate a CDR file.
	ErrRotate = errors.New("cdr: rotate failed")
	// ErrParse wraps every problem found while reading a CDR file back.
	ErrParse = errors.New("cdr: parse error")
	// ErrHeader is returned (wrapped in ErrParse) when a CSV file does not
	// start with the expected header line.
	ErrHeader = errors.New("cdr: unexpected CSV header")
	// ErrUnknownFormat is returned for a file name or format that is
	// neither CSV nor JSON lines.
	ErrUnknownFormat = errors.New("cdr: unknown format")
)
