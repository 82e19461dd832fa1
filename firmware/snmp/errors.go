package snmp

import "errors"

// Errors returned by the package. Callers test them with errors.Is.
var (
	// ErrShortPacket: the bytes end before the PDU they announce.
	ErrShortPacket = errors.New("snmp: agentx pdu truncated")
	// ErrBadVersion: the header does not carry AgentX version 1.
	ErrBadVersion = errors.New("snmp: unsupported agentx version")
	// ErrMalformed: a field of the PDU is out of range or inconsistent.
	ErrMalformed = errors.New("snmp: malformed agentx pdu")
	// ErrTooLarge: a PDU exceeds the size limit of this implementation.
	ErrTooLarge = errors.New("snmp: agentx pdu too large")
	// ErrBadOID: an object identifier could not be parsed.
	ErrBadOID = errors.New("snmp: invalid object identifier")
	// ErrConfig: the agent configuration is invalid.
	ErrConfig = errors.New("snmp: invalid configuration")
	// ErrNotConnected: no AgentX session with the master is open.
	ErrNotConnected = errors.New("snmp: not connected to the master agent")
	// ErrClosed: the agent has been closed.
	ErrClosed = errors.New("snmp: agent closed")
	// ErrMasterRefused: the master answered a request with an error.
	ErrMasterRefused = errors.New("snmp: request refused by the master agent")
	// ErrTimeout: the master did not answer in time.
	ErrTimeout = errors.New("snmp: master agent did not answer in time")
	// ErrUnknownTrunk: a trunk notification names a trunk that is not in
	// the current snapshot, so it has no table index.
	ErrUnknownTrunk = errors.New("snmp: trunk not in snapshot")
)

// Errors describing why a session ended or a value could not be served.
var (
	// ErrClosedByMaster: the master agent closed the AgentX session.
	ErrClosedByMaster = errors.New("snmp: session closed by the master agent")
	// ErrSource: the Source failed (it panicked) while taking a snapshot.
	ErrSource = errors.New("snmp: snapshot source failed")
)
