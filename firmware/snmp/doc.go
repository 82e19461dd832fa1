// Package snmp makes sbcd an AgentX subagent (RFC 2741) of the host's SNMP
// master agent, normally net-snmp's snmpd. snmpd keeps SNMP itself (v1,
// v2c communities, SNMPv3 users, views, trap and inform sinks); sbcd only
// registers the OPENBORDER-MIB subtree (configs/OPENBORDER-MIB.txt) over
// the master's agentXSocket and answers Get, GetNext and GetBulk for it.
//
// The package imports nothing from the rest of OpenBorder: the daemon
// implements [Source], whose [Snapshot] holds plain values, and the
// [Agent] maps each snapshot to the MIB's objects, tables indexed 1, 2, 3
// ... in name order. [Agent.Notify] sends the MIB's notifications.
//
// An Agent never blocks its caller: it connects, opens a session and
// registers in its own goroutine, pings the master to notice a dead
// connection, and reconnects with capped exponential backoff when snmpd
// restarts. [Agent.Close] ends the session and waits for the goroutine.
//
// The wire codec ([DecodePDU], [PDU.Encode]) is exported for tests and
// tools; it reads both byte orders and writes network byte order.
package snmp
