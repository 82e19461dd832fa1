// Package radius sends sbcd's call accounting to RADIUS servers (RFC 2866).
//
// A [Client] turns call detail records into Accounting-Request packets:
// Start when a call is answered, Interim-Update at an optional period while
// it lasts, Stop when an attempt ends. The packets carry Acct-Status-Type,
// Acct-Session-Id, User-Name, Calling-Station-Id, Called-Station-Id,
// NAS-IP-Address and/or NAS-Identifier, Acct-Session-Time,
// Acct-Terminate-Cause, Event-Timestamp and Acct-Delay-Time, and the
// Request Authenticator of RFC 2866 section 3.
//
// The client never blocks its caller. Requests go to a bounded in-memory
// queue; one goroutine sends them in order, retransmitting on timeout and
// moving to the next server when one stops answering. When no server
// answers, or the queue is full, requests go to an on-disk spool directory,
// which the goroutine replays in order once a server answers again. Only
// when the spool reaches its size cap are requests dropped, and counted.
//
// [Encode] and [Decode] handle the wire format; Decode is used on responses
// from the network and accepts any input without panicking.
package radius
