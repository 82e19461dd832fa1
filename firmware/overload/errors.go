package overload

import "errors"

// ErrConfig is wrapped by every configuration error of [NewDetector].
var ErrConfig = errors.New("overload: invalid configuration")
