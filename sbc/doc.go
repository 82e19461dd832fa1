// Package sbc is the signalling plane of sbcd: a SIP back-to-back user agent
// on github.com/emiago/sipgo that carries calls between realms.
//
// Each realm has its own sipgo transport and transaction layers on its own
// sockets, so every request leaves from the realm's listener. Every call is
// two dialogs (leg A towards the caller, leg B towards the callee) owned by
// a call actor that applies events one at a time and in order: responses
// are taken from the transport layer in arrival order (sipgo delivers them
// to transactions on separate goroutines and can reorder them) and
// in-dialog requests are applied in CSeq order.
//
// Nothing from one realm crosses into the other unless policy allows it:
// new Call-ID, tags, Via, Contact and CSeq space per leg, and SDP rewritten
// by the media plane. sbc never imports the media engine; it declares the
// Media interface it needs and cmd/sbcd plugs in an implementation.
package sbc
