// Package rtpengine is the media plane of sbcd: it anchors the media of
// calls on its own UDP ports and relays RTP and RTCP between the two sides.
//
// The control model is the one of the rtpengine "ng" protocol: a call has
// monologues keyed by SIP tag. Offer allocates ports for the offerer's side
// and for the other side from the named interfaces (port pools), rewrites
// the SDP to point at them and returns the SDP for the other side; Answer
// does the same for the answer. Re-offers keep ports where possible and swap
// the forwarding state atomically. Delete releases the ports, which drain
// for Config.PortDrain before reuse. Serve lets the engine itself be the
// far end ("echo" and "tone" services).
//
// Packets: on Linux media sockets are raw non-blocking descriptors outside
// Go's poller, served by a few relay workers (Config.RelayWorkers), each on
// its own OS thread blocking in epoll_wait, reading with recvmmsg into one
// receive ring and sending with sendmmsg/sendto (worker_linux.go).
// Elsewhere, or with Config.Relay RelayGoroutine, one reader goroutine per
// socket does the same work. Either way each packet is demultiplexed by
// first byte (RFC 7983), RTP/RTCP validated, the peer's source address
// latched (RFC 7362 symmetric RTP, then strict source), per-stream atomic
// statistics updated (RFC 3550 loss, duplicates, jitter; RTT from RTCP
// SR/RR) and the packet forwarded to the other side. The per-packet path
// neither allocates nor takes a lock shared between streams. One engine
// goroutine scans calls for media timeouts.
//
// The package never imports the signalling plane; sbcd and the ng control
// socket (subpackage ng) drive it through this API.
package rtpengine
