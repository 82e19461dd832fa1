// Package hep encodes, decodes and sends HEPv3 (the Homer Encapsulation
// Protocol, version 3) so that sbcd can mirror the SIP it sees, and the RTCP
// of its media legs, to a Homer or HEPIC collector.
//
// A HEPv3 packet is the 4-byte magic "HEP3", a 16-bit total length and a
// sequence of chunks; each chunk is a 16-bit vendor id, a 16-bit type, a
// 16-bit length that includes the 6-byte chunk header, and the value. All
// integers are in network byte order. [Append] writes the chunks sbcd uses
// (IP family, IP protocol, addresses and ports, timestamp, protocol type,
// capture agent id, auth key, payload, correlation id); [Decode] reads them
// back and skips chunks of other vendors and types it does not know.
//
// [Sender] is the non-blocking exporter: [Sender.Send] encodes the packet
// into one of a fixed number of buffers and queues it; a single goroutine
// owned by the Sender writes to the collector over UDP or TCP. A full queue
// drops the packet and counts it; nothing on the caller's path ever waits
// for the network.
package hep
