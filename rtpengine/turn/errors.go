package turn

import "errors"

// Sentinel errors.
var (
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("turn: invalid configuration")
)
