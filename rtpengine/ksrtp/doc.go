// Package ksrtp protects and unprotects the SRTP of offloaded media
// streams inside the Linux kernel, so that an SRTP <-> RTP call costs
// no user-space work per packet.
//
// A tc ingress program (bpf/srtp.c, compiled by `make bpf` into
// bpf/srtp.o, which is committed and embedded) looks up every UDP/IPv4
// datagram's destination port in a slot table. When the port names an
// active slot and the datagram comes from the slot's latched peer, the
// program either unprotects it (AES_CM_128_HMAC_SHA1_80 or _32:
// authentication, replay window, decryption, tag removed) or protects it
// (encryption, tag appended), corrects the IP and UDP lengths and
// checksums, and forwards the datagram itself when the slot says where
// (Stream.Out): source and destination become our port on the other leg
// and that leg's latched peer, and the datagram is delivered on this host
// (peers on this host, arriving on loopback) or sent out of the egress
// device towards the next hop with bpf_redirect_neigh, which resolves the
// neighbour. Neither conntrack nor the stack's routing sees it. Datagrams
// of a slot's flow that the program cannot handle (another SSRC, RTCP, IP
// options, fragments, too large) are dropped and counted, never passed on
// in the wrong form; the engine watches the counters and takes such a
// stream back into user space.
//
// The program uses no maps but its global data: Load creates the .bss
// array memory-mappable, and a Datapath writes the AES tables and the
// slots straight into it. Slot layout and key derivation (RFC 3711 key
// derivation, AES-128 key expansion, HMAC-SHA1 pad states) are plain Go
// (stream.go) and tested on every platform; loading, attaching and the
// kernel tests are Linux only and need CAP_BPF and CAP_NET_ADMIN.
package ksrtp
