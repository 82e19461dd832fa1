package auth

import "errors"

// Sentinel errors returned by Verify; callers classify them with errors.Is.
var (
	// ErrNoCredentials means the request carried no credentials for the realm.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrMalformed means the Authorization header could not be parsed or
	// lacks a required parameter.
	ErrMalformed = errors.New("auth: malformed credentials")
	// ErrAlgorithm means the credentials use an algorithm that is not offered.
	ErrAlgorithm = errors.New("auth: unsupported algorithm")
	// ErrNonce means the nonce was not issued by this server.
	ErrNonce = errors.New("auth: unknown nonce")
	// ErrStale means the nonce expired while the response was otherwise
	// correct: the client should retry with a fresh nonce (stale=true).
	ErrStale = errors.New("auth: stale nonce")
	// ErrReplay means the nonce-count was not above the last one accepted
	// for this nonce.
	ErrReplay = errors.New("auth: replayed nonce count")
	// ErrUnknownUser means no credentials are stored for the user.
	ErrUnknownUser = errors.New("auth: unknown user")
	// ErrBadResponse means the digest response is wrong (wrong password).
	ErrBadResponse = errors.New("auth: wrong response")
	// ErrRealm means the credentials name another realm.
	ErrRealm = errors.New("auth: wrong realm")
)
