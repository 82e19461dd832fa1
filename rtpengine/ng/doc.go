// Package ng implements the control side of the rtpengine "ng" protocol, so
// that SIP proxies that drive a Sipwise rtpengine (Kamailio's rtpengine
// module, OpenSIPS, …) can drive the OpenBorder media engine instead.
//
// A command is one UDP datagram "<cookie> <bencoded dictionary>"; the reply
// is "<cookie> <bencoded dictionary>" sent back to the source. The package
// holds a bencode codec written for untrusted input (Decode, Encode, Limits)
// and a Server that serves a net.PacketConn handed to it by the daemon: the
// package never opens sockets itself.
//
// Supported commands are ping, offer, answer, delete, query and list. The
// Server talks to the media engine through the small Engine interface, which
// *rtpengine.Engine satisfies. Replies are cached per cookie for 30 seconds,
// so a retransmitted command gets the same reply and is executed once.
//
// docs/ng-protocol.md lists the supported keys and flags.
package ng
