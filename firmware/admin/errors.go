package admin

import "errors"

// Errors a Backend returns to get the matching HTTP status.
var (
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: 422, with the error text (and Problems, if any) as reason.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: 503 (the feature is off in this policy).
	ErrUnavailable = errors.New("unavailable")
)

// Problems is an ErrInvalid carrying one message per problem (policy
// validation).
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0]
	}
	return "policy has problems"
}

func (p Problems) Unwrap() error { return ErrInvalid }
