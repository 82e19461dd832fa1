// Package kfwd programs the Linux kernel's connection tracking over
// netlink (ctnetlink) so that the kernel forwards a plain UDP media
// stream between two of sbcd's ports by itself.
//
// One entry forwards one stream both ways. Its original tuple is the
// first peer's latched source sending to our port on its leg (A:pa ->
// S:X); destination NAT turns that into the second peer's latched address
// (B:pb) and source NAT into our port on the second leg (S:Y). The
// second peer's packets (B:pb -> S:Y) then match the entry's reply tuple
// and the kernel translates them back into S:X -> A:pa. Nothing reaches
// user space for either direction while the entry exists.
//
// The encoding (Encode* and Parse*) is plain bytes and works on every
// platform, so it is tested against hand-built messages; Conn, which
// talks to the kernel, is Linux only. The kernel applies the NAT of such
// entries only where NAT hooks are registered in the network namespace
// (any nat table chain does that) and keeps per-entry packet and byte
// counters only with net.netfilter.nf_conntrack_acct = 1.
package kfwd
