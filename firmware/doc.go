// Package firmware will hold the appliance around the two planes: the
// admin REST API, metrics wiring, the SNMP AgentX subagent, PCAP/HEP
// capture export, host networking via netlink, HA and packaging.
package firmware
