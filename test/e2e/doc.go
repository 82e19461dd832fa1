// Package e2e runs sbcd as a real process against real SIP peers (sipp) on
// loopback and checks what each side really received.
//
// The non-test files are the harness: process control and JSON log parsing
// for sbcd (sbcd.go), running sipp and parsing its message and statistics
// files (sipp.go, sipmsg.go, stat.go), the per-test loopback topology and
// its sbcd configuration (topology.go), the topology-leak scanner (leak.go)
// and the policy for missing peer tools (peers.go). The scenarios live in
// test/sipp.
//
// Every test uses its own loopback network 127.<net>.0.0/16: realm access
// on 127.<net>.1.1, realm core on 127.<net>.2.1, the caller on
// 127.<net>.1.10 and the gateways on 127.<net>.2.10 and .11, so tests run
// in parallel and a leaked address names the realm it came from.
package e2e
