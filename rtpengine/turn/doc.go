// Package turn is sbcd's embedded TURN server (RFC 8656) for WebRTC
// clients that cannot reach the media ports directly. It runs pion/turn
// on sockets the daemon opens and adds what an SBC needs around it:
// long-term credentials, time-limited TURN REST API credentials (a shared
// secret), per-user and total allocation quotas, relay ports from a range
// disjoint from the media ports, and a peer policy that refuses relaying
// to loopback, private, link-local, multicast and unspecified addresses
// (unless allowed) and always to sbcd's own signalling and admin sockets.
// Counters cover allocations, relayed bytes and every kind of refusal.
package turn
