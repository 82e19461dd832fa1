package main

import (
	"net/netip"
	"os"
)

// With -two-hosts the calls' sockets live in a second network namespace
// joined to sbcd's by a veth pair: media reaches sbcd on a device and
// leaves by one, as from other hosts, instead of over loopback.
const (
	peersNSEnv = "RTPLOAD_PEERS_NS"
	relayVeth  = "rl0" // sbcd's end
	peersVeth  = "rp0" // the calls' end
)

var (
	twoHostsRelay = netip.AddrFrom4([4]byte{10, 201, 0, 1})
	twoHostsPeers = netip.AddrFrom4([4]byte{10, 201, 0, 2})
)

// hosts is where the tool's media goes: sbcd's media address, the
// address the calls' sockets are bound to, and the namespace they are
// opened in ("": this one). Both addresses are loopback, or the tool's
// own veth pair with -two-hosts: nothing else is ever a target.
var hosts = struct {
	relay, peers netip.Addr
	ns           string
}{relay: loopback, peers: loopback}

func init() {
	if ns := os.Getenv(peersNSEnv); ns != "" {
		hosts.relay, hosts.peers, hosts.ns = twoHostsRelay, twoHostsPeers, ns
	}
}
