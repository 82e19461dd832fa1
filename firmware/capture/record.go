package capture

import (
	"net/netip"
	"time"
)

// MaxPayload is the largest payload a record may carry: what fits in one
// IPv6 UDP datagram with room for the headers.
const MaxPayload = 65000

// Direction says whether sbcd received or sent a message.
type Direction uint8

// Directions.
const (
	In Direction = iota + 1
	Out
)

// String returns "in" or "out".
func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	}
	return "unknown"
}

// Transport is the transport a message used.
type Transport uint8

// Transports. TCP, TLS, WS and WSS are written as TCP segments.
const (
	UDP Transport = iota + 1
	TCP
	TLS
	WS
	WSS
)

var transportNames = [...]string{UDP: "udp", TCP: "tcp", TLS: "tls", WS: "ws", WSS: "wss"}

// String returns the lower-case name ("udp", "tls", ...).
func (t Transport) String() string {
	if int(t) < len(transportNames) && transportNames[t] != "" {
		return transportNames[t]
	}
	return "unknown"
}

// stream reports whether the transport is carried over TCP.
func (t Transport) stream() bool { return t >= TCP && t <= WSS }

// Kind is what a payload is.
type Kind uint8

// Kinds.
const (
	SIP Kind = iota + 1
	RTP
	RTCP
)

var kindNames = [...]string{SIP: "sip", RTP: "rtp", RTCP: "rtcp"}

// String returns "sip", "rtp" or "rtcp".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Record is one message sbcd received or sent.
type Record struct {
	// Time is when the message was received or sent; the Tap uses the
	// current time when it is zero.
	Time time.Time
	// Dir is In (from Remote to Local) or Out (from Local to Remote).
	Dir Direction
	// Transport is how the message travelled.
	Transport Transport
	// Kind is what Payload is.
	Kind Kind
	// Local is sbcd's address, Remote the peer's.
	Local, Remote netip.AddrPort
	// Realm is the name of the realm the message belongs to.
	Realm string
	// CallKey identifies the call; empty for messages outside a call
	// (REGISTER, OPTIONS). Capture filters select calls by it.
	CallKey string
	// Payload is the SIP message, or the RTP or RTCP packet as it was on
	// the wire (after SRTP unprotect where sbcd terminates SRTP). The Tap
	// copies it; the caller keeps ownership.
	Payload []byte
}

// src and dst return the packet's endpoints according to the direction.
func (r *Record) endpoints() (src, dst netip.AddrPort) {
	if r.Dir == Out {
		return r.Local, r.Remote
	}
	return r.Remote, r.Local
}
