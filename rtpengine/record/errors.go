package record

import "errors"

var (
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("record: bad config")
	// ErrClosed reports use of a stopped recorder.
	ErrClosed = errors.New("record: recorder closed")
)
