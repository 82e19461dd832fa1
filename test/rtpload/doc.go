// Command rtpload measures sbcd's media relay under a packet load, the way
// operators compare relays: CPU per relayed packet, loss, reordering,
// duplicates and added latency.
//
//	go run ./test/rtpload -calls 840 -pps 50 -duration 30s
//
// It starts sbcd (built from ./cmd/sbcd unless -sbcd names a binary) with a
// one-realm configuration in a temp dir, waits until the rtpengine "ng"
// control socket answers ping, and sets up -calls calls over ng: an offer
// from tag A whose SDP points at one of the tool's sockets, and an answer
// from tag B pointing at another. Then, for -duration, every call carries
// RTP both ways at -pps packets per second per direction (50 pps is G.711
// with 20 ms packets; 840 calls relay 84,000 packets/s). Each packet carries
// its stream number, a sequence number and the monotonic send time in its
// payload; the receiver derives per-stream loss (expected versus received),
// reordering, duplicates, misrouted packets and the added latency
// (receive time minus send time; p50/p99/max over all packets). The
// arrival_* figures take the kernel's arrival timestamp of each datagram in
// the receiving socket (SO_TIMESTAMPNS) instead of the time the tool read
// it: on a loaded machine the tool's own receivers wait for a core, and
// that wait is not latency the relay added. -warmup leaves a run's first
// packets (latching, the hand-over to in-kernel forwarding) out of both.
//
// sbcd's CPU time (utime+stime from /proc/<pid>/stat) is read before and
// after the measured window and reported as CPU seconds, percent of one
// core and microseconds of sbcd CPU per relayed packet. The tool prints one
// "key=value" line and exits non-zero when the loss exceeds -max-loss
// percent. Every call is deleted over ng at the end and sbcd is stopped.
//
// -srtp sdes makes tag A's side speak SDES-SRTP (RFC 4568,
// AES_CM_128_HMAC_SHA1_80, its own key in the offer) and asks the relay
// for plain RTP toward tag B, so every call costs the relay one SRTP
// decryption (A to B) and one encryption (B to A) per packet pair: the
// SRTP<->RTP figure. The tool protects and opens its own side with the
// keys exchanged in the SDP; a packet that fails authentication counts
// as misrouted.
//
// -direct skips sbcd and connects the two sockets of each call to each
// other: the figures then show what the tool and the kernel's loopback add
// by themselves, a baseline for the latency figures. With -srtp sdes as
// well, tag A protects what it sends and tag B opens it: the same SRTP work
// for the tool per packet pair as through a relay, so the difference to a
// relay run is the relay's SRTP<->RTP cost alone.
//
// The machine's busy CPU time (every core: user, nice, system, irq,
// softirq, steal from /proc/stat) over the same window is reported as
// sys_busy_pct (percent of one core) and sys_cpu_per_pkt_us. It includes
// the tool and anything else running, but it is the only figure that sees
// in-kernel forwarding: on loopback the kernel forwards a packet in the
// softirq context of the process that sent it. It is sampled at the timer
// tick, though, and reads low when the sends start on the tick. -send-cpu
// gives the exact figure: the sending thread's CPU clock around every
// write(2), which on loopback holds the datagram's whole kernel path, as
// send_cpu_per_pkt_us. The relay's cost per packet is a relay run's figure
// minus a -direct run's plus sbcd's cpu_per_pkt_us.
//
// -kernel off|auto|on sets sbcd's media.relay.kernel_forwarding; with it
// the tool also prints sbcd's kernel_streams, kernel_packets and
// kernel_failures metrics at the end of the window. -netns (root) runs the
// whole measurement, sbcd included, in a network namespace of its own with
// loopback up, conntrack accounting on and the NAT hooks registered (an
// accepting nat OUTPUT rule), and deletes it at the end; run the -direct
// baseline with -netns too so both see the same conntrack work. With
// -two-hosts as well, the calls' sockets live in a second namespace joined
// to sbcd's by a veth pair (10.201.0.2 and 10.201.0.1): media arrives on a
// device and leaves by one, as between hosts.
//
// The tool is cheap by design so that sbcd, not the tool, is measured on a
// small machine: one sender goroutine paces all streams (spread evenly over
// each packet interval, one precomputed packet per stream, no allocation
// per packet), and a few receiver goroutines each serve a share of the
// sockets through their own epoll set. Sockets are connected, so a send is
// one write(2) and a receive one read(2). Only 127.0.0.1 (or, with
// -two-hosts, the tool's own veth pair) is ever a target.
// It runs on Linux only.
package main
