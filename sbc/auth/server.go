package auth

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultNonceTTL is how long a nonce is accepted.
const DefaultNonceTTL = 5 * time.Minute

// Lookup finds the stored HA1 (hex) of a user for an algorithm.
type Lookup interface {
	HA1(user string, alg Algorithm) (string, bool)
}

// Store is an in-memory Lookup: HA1 hashes by user, per algorithm.
type Store map[string][2]string

// HA1 implements Lookup.
func (s Store) HA1(user string, alg Algorithm) (string, bool) {
	h, ok := s[user]
	if !ok || h[alg] == "" {
		return "", false
	}
	return h[alg], true
}

// Challenger challenges and verifies requests for one digest realm.
type Challenger struct {
	// Realm is the digest realm named in challenges. Required.
	Realm string
	// Algorithms are offered in this order (one challenge each). Default SHA-256, MD5.
	Algorithms []Algorithm
	// TTL is how long a nonce is accepted. Default DefaultNonceTTL.
	TTL time.Duration
	// Users holds the credentials. Required.
	Users Lookup
	// Nonces issues and tracks nonces. Required.
	Nonces *Nonces
}

func (c *Challenger) algorithms() []Algorithm {
	if len(c.Algorithms) == 0 {
		return []Algorithm{SHA256, MD5}
	}
	return c.Algorithms
}

func (c *Challenger) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultNonceTTL
	}
	return c.TTL
}

// Challenge returns the WWW-Authenticate / Proxy-Authenticate values to
// send, one per algorithm, all with the same fresh nonce and qop="auth".
func (c *Challenger) Challenge(stale bool) []string {
	nonce := c.Nonces.New()
	algs := c.algorithms()
	out := make([]string, 0, len(algs))
	for _, a := range algs {
		v := "Digest realm=" + quote(c.Realm) + `, nonce="` + nonce + `", algorithm=` + a.String() + `, qop="auth"`
		if stale {
			v += ", stale=true"
		}
		out = append(out, v)
	}
	return out
}

// Verify checks credentials sent with a request of method. It returns nil
// when they prove knowledge of the user's password, or an error wrapping
// one of the package's sentinels: ErrStale asks for a new challenge with
// stale=true, the others for a plain new challenge (or a refusal).
func (c *Challenger) Verify(method string, cr *Credentials) error {
	if cr.Realm != c.Realm {
		return fmt.Errorf("%w: %q", ErrRealm, cr.Realm)
	}
	alg := MD5
	if cr.Algorithm != "" {
		a, err := ParseAlgorithm(cr.Algorithm)
		if err != nil {
			return err
		}
		alg = a
	}
	offered := false
	for _, a := range c.algorithms() {
		offered = offered || a == alg
	}
	if !offered {
		return fmt.Errorf("%w: %s is not offered", ErrAlgorithm, alg)
	}
	var nc uint64
	switch cr.QOP {
	case "":
	case "auth":
		if cr.CNonce == "" || len(cr.NC) != 8 {
			return fmt.Errorf("%w: qop=auth needs cnonce and an 8-digit nc", ErrMalformed)
		}
		var err error
		if nc, err = strconv.ParseUint(cr.NC, 16, 32); err != nil || nc == 0 {
			return fmt.Errorf("%w: nc %q", ErrMalformed, cr.NC)
		}
	default:
		return fmt.Errorf("%w: qop %q (only auth)", ErrMalformed, cr.QOP)
	}
	issued, err := c.Nonces.issued(cr.Nonce)
	if err != nil {
		return err
	}
	ha1, ok := c.Users.HA1(cr.Username, alg)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownUser, cr.Username)
	}
	var buf [2 * 32]byte
	want := response(alg, buf[:0], ha1, method, cr.URI, cr.Nonce, cr.NC, cr.CNonce, cr.QOP)
	got := cr.Response
	if len(got) != len(want) {
		return ErrBadResponse
	}
	if subtle.ConstantTimeCompare(want, []byte(got)) != 1 &&
		subtle.ConstantTimeCompare(want, []byte(strings.ToLower(got))) != 1 {
		return ErrBadResponse
	}
	expires := issued.Add(c.ttl())
	if !c.Nonces.now().Before(expires) {
		return ErrStale
	}
	return c.Nonces.use(cr.Nonce, uint32(nc), expires)
}
