// Package capture records what sbcd sends and receives, as PCAPNG files
// that Wireshark and tshark decode.
//
// sbcd does not sniff the wire: SIP reaches it as decoded messages (also
// over TCP, TLS and WebSocket, where there is no packet to copy) and media
// as UDP payloads with their addresses. A [Record] is one such message:
// time, direction, transport, local and remote address, realm, call key,
// kind (SIP, RTP, RTCP) and payload. The [Writer] synthesises an
// Ethernet (or raw IP) / IPv4 or IPv6 / UDP or TCP packet around each
// payload, with TCP sequence numbers kept per flow so that tshark
// reassembles SIP over TCP, and attaches a PCAPNG comment naming the realm,
// direction, transport and call.
//
// A [Capturer] owns one goroutine that writes files. Its [Tap] is the
// hot-path entry point for the signalling and media planes: [Tap.Packet]
// copies the payload into a pooled buffer and queues it without ever
// waiting for the writer; a full queue drops the record and counts it.
// The planes announce each call once with [Tap.CallStarted], which
// evaluates the capture filters for the call, so that the per-packet
// decision is one map lookup.
//
// Two kinds of capture exist: per-call captures started on demand by a
// [Filter] (call key or Call-ID, number, source address or prefix) with a
// duration and size cap, written atomically to the capture directory; and
// a bounded in-memory ring of recent SIP, dumped to PCAPNG on demand.
package capture
