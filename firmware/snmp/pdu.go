package snmp

import (
	"encoding/binary"
	"fmt"
)

// PDUType is the AgentX PDU type (RFC 2741 section 6.1).
type PDUType uint8

// AgentX PDU types.
const (
	PDUOpen            PDUType = 1
	PDUClose           PDUType = 2
	PDURegister        PDUType = 3
	PDUUnregister      PDUType = 4
	PDUGet             PDUType = 5
	PDUGetNext         PDUType = 6
	PDUGetBulk         PDUType = 7
	PDUTestSet         PDUType = 8
	PDUCommitSet       PDUType = 9
	PDUUndoSet         PDUType = 10
	PDUCleanupSet      PDUType = 11
	PDUNotify          PDUType = 12
	PDUPing            PDUType = 13
	PDUIndexAllocate   PDUType = 14
	PDUIndexDeallocate PDUType = 15
	PDUAddAgentCaps    PDUType = 16
	PDURemoveAgentCaps PDUType = 17
	PDUResponse        PDUType = 18
)

var pduNames = [...]string{"", "Open", "Close", "Register", "Unregister", "Get", "GetNext",
	"GetBulk", "TestSet", "CommitSet", "UndoSet", "CleanupSet", "Notify", "Ping",
	"IndexAllocate", "IndexDeallocate", "AddAgentCaps", "RemoveAgentCaps", "Response"}

func (t PDUType) String() string {
	if int(t) < len(pduNames) && t != 0 {
		return pduNames[t]
	}
	return fmt.Sprintf("PDUType(%d)", uint8(t))
}

// Header flags (RFC 2741 section 6.1).
const (
	FlagInstanceRegistration uint8 = 0x01
	FlagNewIndex             uint8 = 0x02
	FlagAnyIndex             uint8 = 0x04
	FlagNonDefaultContext    uint8 = 0x08
	FlagNetworkByteOrder     uint8 = 0x10
)

// Close reasons (RFC 2741 section 6.2.2).
const (
	CloseOther         uint8 = 1
	CloseParseError    uint8 = 2
	CloseProtocolError uint8 = 3
	CloseTimeouts      uint8 = 4
	CloseShutdown      uint8 = 5
	CloseByManager     uint8 = 6
)

// Response error codes used by this package (RFC 2741 section 6.2.16 and
// the SNMP error-status values it reuses).
const (
	ErrCodeNone                  uint16 = 0
	ErrCodeGenErr                uint16 = 5
	ErrCodeNotWritable           uint16 = 17
	ErrCodeOpenFailed            uint16 = 256
	ErrCodeNotOpen               uint16 = 257
	ErrCodeUnsupportedContext    uint16 = 262
	ErrCodeDuplicateRegistration uint16 = 263
	ErrCodeParseError            uint16 = 266
	ErrCodeProcessingError       uint16 = 268
)

// VarType is the type of a variable binding's value (RFC 2741 section 5.4).
type VarType uint16

// Value types.
const (
	TypeInteger        VarType = 2
	TypeOctetString    VarType = 4
	TypeNull           VarType = 5
	TypeOID            VarType = 6
	TypeIPAddress      VarType = 64
	TypeCounter32      VarType = 65
	TypeGauge32        VarType = 66
	TypeTimeTicks      VarType = 67
	TypeOpaque         VarType = 68
	TypeCounter64      VarType = 70
	TypeNoSuchObject   VarType = 128
	TypeNoSuchInstance VarType = 129
	TypeEndOfMibView   VarType = 130
)

// Limits of this implementation; both are far above what a master sends.
const (
	headerLen  = 20
	maxSubIDs  = 128     // RFC 2578 limit on sub-identifiers
	maxPayload = 1 << 20 // bytes of one PDU's payload
	maxString  = 1 << 16 // bytes of one octet string
)

// Header is the fixed 20-byte AgentX header.
type Header struct {
	Type          PDUType
	Flags         uint8
	SessionID     uint32
	TransactionID uint32
	PacketID      uint32
}

// VarBind is one variable binding. Which value field is meaningful depends
// on Type: Int for Integer, Uint for Counter32/Gauge32/TimeTicks/Counter64,
// Bytes for OctetString/IpAddress/Opaque, Value for OID; the exception
// types and Null carry no value.
type VarBind struct {
	Name  OID
	Type  VarType
	Int   int32
	Uint  uint64
	Bytes []byte
	Value OID
}

// SearchRange is a Get/GetNext range: Start, whether Start itself is
// included, and an exclusive End (empty for no upper bound).
type SearchRange struct {
	Start   OID
	Include bool
	End     OID
}

// PDU is a decoded AgentX PDU. Only the fields of its Type are used.
type PDU struct {
	Header
	// Context is the non-default context; set only with FlagNonDefaultContext.
	Context []byte

	// Open
	Timeout uint8
	ID      OID
	Descr   []byte
	// Close
	Reason uint8
	// Register (Timeout is shared with Open)
	Priority   uint8
	RangeSubID uint8
	Subtree    OID
	UpperBound uint32
	// Get, GetNext, GetBulk
	NonRepeaters   uint16
	MaxRepetitions uint16
	Ranges         []SearchRange
	// TestSet, Notify, Response
	VarBinds []VarBind
	// Response
	SysUpTime uint32
	Error     uint16
	Index     uint16
}

// byteOrder is what both binary.BigEndian and binary.LittleEndian provide.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (p *PDU) order() byteOrder {
	if p.Flags&FlagNetworkByteOrder != 0 {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// hasContext reports whether PDUs of type t carry an optional context.
func hasContext(t PDUType) bool {
	switch t {
	case PDURegister, PDUUnregister, PDUGet, PDUGetNext, PDUGetBulk, PDUTestSet,
		PDUNotify, PDUPing, PDUIndexAllocate, PDUIndexDeallocate, PDUAddAgentCaps,
		PDURemoveAgentCaps:
		return true
	}
	return false
}
