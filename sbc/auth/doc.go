// Package auth is SIP digest authentication (RFC 3261 section 22, RFC 8760)
// as a server: challenges with MD5 and SHA-256, nonces that expire and
// cannot be replayed, verification of Authorization headers, and a store
// of credentials kept as HA1 hashes (never plain passwords).
//
// A nonce is stateless until first used: it carries its issue time and an
// HMAC-SHA-256 of it under a per-process secret, so a forged or expired
// nonce is recognised without a table. Once a request authenticates with a
// nonce, the highest nonce-count seen is tracked until the nonce expires; a
// request that repeats or lowers it is a replay. An expired nonce with a
// correct response gets a fresh challenge with stale=true, so the client
// retries without asking its user again.
package auth
