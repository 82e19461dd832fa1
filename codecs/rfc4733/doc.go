// Package rfc4733 handles the RTP payload for DTMF digits and telephony
// events ("telephone-event", RFC 4733).
//
// It parses and marshals the 4-byte event block (event code, end bit,
// volume, duration) and the RFC 2198 redundancy wrapper used to pack
// several blocks in one packet; maps event codes 0-16 to the keys
// '0'-'9', '*', '#', 'A'-'D' and flash; and provides the state
// machines the media plane needs:
//
//   - Receiver turns a stream of telephone-event packets into digits,
//     each reported exactly once with its duration, whatever the network
//     did to the packets (redundant end packets, lost start or end
//     packets, a missing marker bit, reordering, timestamp wrap).
//   - Sender produces the packet sequence for a digit: a start packet
//     with the marker bit, an update every packet interval, three end
//     packets, all with the event's timestamp, split into segments when
//     the event outlasts the 16-bit duration field.
//   - Emitter writes an event into a stream that is already flowing, one
//     event packet in place of each packet it replaces (a relay or
//     transcoder turning a detected or played digit into events): the
//     relayed DTMF processing and the transcoding pipelines share it.
//
// The package is a leaf: standard library only, no sockets, no clocks of
// its own (the caller passes the time). Per-packet calls do not allocate.
package rfc4733
