package snmp

import (
	"encoding/binary"
	"fmt"
	"io"
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

// decoder reads fields from a payload in one byte order.
type decoder struct {
	b   []byte
	off int
	bo  binary.ByteOrder
}

func (d *decoder) need(n int) error {
	if n < 0 || len(d.b)-d.off < n {
		return fmt.Errorf("%w: need %d bytes at offset %d of %d", ErrShortPacket, n, d.off, len(d.b))
	}
	return nil
}

func (d *decoder) u8() (uint8, error) {
	if err := d.need(1); err != nil {
		return 0, err
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) u16() (uint16, error) {
	if err := d.need(2); err != nil {
		return 0, err
	}
	v := d.bo.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32() (uint32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := d.bo.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64() (uint64, error) {
	if err := d.need(8); err != nil {
		return 0, err
	}
	v := d.bo.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

// oid reads an OID and its include byte.
func (d *decoder) oid() (OID, bool, error) {
	if err := d.need(4); err != nil {
		return nil, false, err
	}
	n, prefix, include := int(d.b[d.off]), d.b[d.off+1], d.b[d.off+2]
	d.off += 4
	if n > maxSubIDs {
		return nil, false, fmt.Errorf("%w: oid with %d sub-identifiers", ErrMalformed, n)
	}
	if include > 1 {
		return nil, false, fmt.Errorf("%w: oid include field %d", ErrMalformed, include)
	}
	if err := d.need(4 * n); err != nil {
		return nil, false, err
	}
	var o OID
	if n == 0 && prefix == 0 {
		return nil, include == 1, nil // the null OID
	}
	if prefix != 0 {
		o = make(OID, 0, 5+n)
		o = append(o, 1, 3, 6, 1, uint32(prefix))
	} else {
		o = make(OID, 0, n)
	}
	for i := 0; i < n; i++ {
		o = append(o, d.bo.Uint32(d.b[d.off:]))
		d.off += 4
	}
	if len(o) > maxSubIDs {
		return nil, false, fmt.Errorf("%w: oid with %d sub-identifiers", ErrMalformed, len(o))
	}
	return o, include == 1, nil
}

func (d *decoder) octets() ([]byte, error) {
	n, err := d.u32()
	if err != nil {
		return nil, err
	}
	if n > maxString {
		return nil, fmt.Errorf("%w: octet string of %d bytes", ErrTooLarge, n)
	}
	padded := (int(n) + 3) &^ 3
	if err := d.need(padded); err != nil {
		return nil, err
	}
	s := make([]byte, n)
	copy(s, d.b[d.off:])
	d.off += padded
	return s, nil
}

func (d *decoder) varBind() (VarBind, error) {
	var vb VarBind
	t, err := d.u16()
	if err != nil {
		return vb, err
	}
	if _, err := d.u16(); err != nil { // reserved
		return vb, err
	}
	vb.Type = VarType(t)
	if vb.Name, _, err = d.oid(); err != nil {
		return vb, err
	}
	switch vb.Type {
	case TypeInteger:
		var v uint32
		v, err = d.u32()
		vb.Int = int32(v)
	case TypeCounter32, TypeGauge32, TypeTimeTicks:
		var v uint32
		v, err = d.u32()
		vb.Uint = uint64(v)
	case TypeCounter64:
		vb.Uint, err = d.u64()
	case TypeOctetString, TypeIPAddress, TypeOpaque:
		vb.Bytes, err = d.octets()
		if err == nil && vb.Type == TypeIPAddress && len(vb.Bytes) != 4 {
			err = fmt.Errorf("%w: IpAddress of %d bytes", ErrMalformed, len(vb.Bytes))
		}
	case TypeOID:
		vb.Value, _, err = d.oid()
	case TypeNull, TypeNoSuchObject, TypeNoSuchInstance, TypeEndOfMibView:
	default:
		err = fmt.Errorf("%w: varbind type %d", ErrMalformed, t)
	}
	return vb, err
}

func (d *decoder) varBinds() ([]VarBind, error) {
	var vbs []VarBind
	for d.off < len(d.b) {
		vb, err := d.varBind()
		if err != nil {
			return nil, err
		}
		vbs = append(vbs, vb)
	}
	return vbs, nil
}

func (d *decoder) searchRanges() ([]SearchRange, error) {
	var rs []SearchRange
	for d.off < len(d.b) {
		start, inc, err := d.oid()
		if err != nil {
			return nil, err
		}
		end, _, err := d.oid()
		if err != nil {
			return nil, err
		}
		rs = append(rs, SearchRange{Start: start, Include: inc, End: end})
	}
	return rs, nil
}

// DecodeHeader parses the 20-byte header and returns it with the payload
// length it announces.
func DecodeHeader(b []byte) (Header, int, error) {
	var h Header
	if len(b) < headerLen {
		return h, 0, fmt.Errorf("%w: header of %d bytes", ErrShortPacket, len(b))
	}
	if b[0] != 1 {
		return h, 0, fmt.Errorf("%w: %d", ErrBadVersion, b[0])
	}
	h.Type = PDUType(b[1])
	h.Flags = b[2]
	var bo binary.ByteOrder = binary.LittleEndian
	if h.Flags&FlagNetworkByteOrder != 0 {
		bo = binary.BigEndian
	}
	h.SessionID = bo.Uint32(b[4:])
	h.TransactionID = bo.Uint32(b[8:])
	h.PacketID = bo.Uint32(b[12:])
	n := bo.Uint32(b[16:])
	if h.Type < PDUOpen || h.Type > PDUResponse {
		return h, 0, fmt.Errorf("%w: pdu type %d", ErrMalformed, b[1])
	}
	if n > maxPayload {
		return h, 0, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, n)
	}
	if n%4 != 0 {
		return h, 0, fmt.Errorf("%w: payload length %d is not a multiple of 4", ErrMalformed, n)
	}
	return h, int(n), nil
}

// DecodePDU parses one complete PDU from b and returns it with the number
// of bytes it used. Bytes after the PDU are left alone.
func DecodePDU(b []byte) (*PDU, int, error) {
	h, n, err := DecodeHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-headerLen < n {
		return nil, 0, fmt.Errorf("%w: payload of %d bytes, have %d", ErrShortPacket, n, len(b)-headerLen)
	}
	p := &PDU{Header: h}
	if err := p.decodePayload(b[headerLen : headerLen+n]); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", h.Type, err)
	}
	return p, headerLen + n, nil
}

// ReadPDU reads one PDU from r.
func ReadPDU(r io.Reader) (*PDU, error) {
	var hb [headerLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, err
	}
	_, n, err := DecodeHeader(hb[:])
	if err != nil {
		return nil, err
	}
	buf := make([]byte, headerLen+n)
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[headerLen:]); err != nil {
		return nil, err
	}
	p, _, err := DecodePDU(buf)
	return p, err
}

func (p *PDU) decodePayload(b []byte) error {
	d := &decoder{b: b, bo: p.order()}
	var err error
	if p.Flags&FlagNonDefaultContext != 0 && hasContext(p.Type) {
		if p.Context, err = d.octets(); err != nil {
			return err
		}
	}
	switch p.Type {
	case PDUOpen:
		if p.Timeout, err = d.u8(); err != nil {
			return err
		}
		if err = d.need(3); err != nil {
			return err
		}
		d.off += 3
		if p.ID, _, err = d.oid(); err != nil {
			return err
		}
		p.Descr, err = d.octets()
	case PDUClose:
		if p.Reason, err = d.u8(); err != nil {
			return err
		}
		err = d.need(3)
		d.off += 3
	case PDURegister, PDUUnregister:
		var hdr [4]uint8
		for i := range hdr {
			if hdr[i], err = d.u8(); err != nil {
				return err
			}
		}
		p.Timeout, p.Priority, p.RangeSubID = hdr[0], hdr[1], hdr[2]
		if p.Type == PDUUnregister {
			p.Timeout = 0
		}
		if p.Subtree, _, err = d.oid(); err != nil {
			return err
		}
		if p.RangeSubID != 0 {
			if int(p.RangeSubID) > len(p.Subtree) {
				return fmt.Errorf("%w: range_subid %d beyond subtree of %d", ErrMalformed, p.RangeSubID, len(p.Subtree))
			}
			p.UpperBound, err = d.u32()
		}
	case PDUGet, PDUGetNext:
		p.Ranges, err = d.searchRanges()
	case PDUGetBulk:
		if p.NonRepeaters, err = d.u16(); err != nil {
			return err
		}
		if p.MaxRepetitions, err = d.u16(); err != nil {
			return err
		}
		p.Ranges, err = d.searchRanges()
	case PDUTestSet, PDUNotify, PDUIndexAllocate, PDUIndexDeallocate:
		p.VarBinds, err = d.varBinds()
	case PDUAddAgentCaps:
		if p.ID, _, err = d.oid(); err != nil {
			return err
		}
		p.Descr, err = d.octets()
	case PDURemoveAgentCaps:
		p.ID, _, err = d.oid()
	case PDUResponse:
		if p.SysUpTime, err = d.u32(); err != nil {
			return err
		}
		if p.Error, err = d.u16(); err != nil {
			return err
		}
		if p.Index, err = d.u16(); err != nil {
			return err
		}
		p.VarBinds, err = d.varBinds()
	case PDUCommitSet, PDUUndoSet, PDUCleanupSet, PDUPing:
		// no payload beyond the context
	}
	if err != nil {
		return err
	}
	if d.off != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b)-d.off)
	}
	return nil
}

// encoder appends fields in one byte order.
type encoder struct {
	b  []byte
	bo byteOrder
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = e.bo.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = e.bo.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = e.bo.AppendUint64(e.b, v) }

func (e *encoder) oid(o OID, include bool) {
	subs, prefix := []uint32(o), uint8(0)
	if len(o) >= 5 && o[0] == 1 && o[1] == 3 && o[2] == 6 && o[3] == 1 && o[4] >= 1 && o[4] <= 255 {
		subs, prefix = o[5:], uint8(o[4])
	}
	inc := uint8(0)
	if include {
		inc = 1
	}
	e.b = append(e.b, uint8(len(subs)), prefix, inc, 0)
	for _, v := range subs {
		e.u32(v)
	}
}

func (e *encoder) octets(s []byte) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) varBind(vb *VarBind) {
	e.u16(uint16(vb.Type))
	e.u16(0)
	e.oid(vb.Name, false)
	switch vb.Type {
	case TypeInteger:
		e.u32(uint32(vb.Int))
	case TypeCounter32, TypeGauge32, TypeTimeTicks:
		e.u32(uint32(vb.Uint))
	case TypeCounter64:
		e.u64(vb.Uint)
	case TypeOctetString, TypeIPAddress, TypeOpaque:
		e.octets(vb.Bytes)
	case TypeOID:
		e.oid(vb.Value, false)
	}
}

// validate checks what the encoder cannot represent.
func (p *PDU) validate() error {
	check := func(o OID) error {
		if len(o) > maxSubIDs {
			return fmt.Errorf("%w: oid with %d sub-identifiers", ErrMalformed, len(o))
		}
		return nil
	}
	for _, o := range []OID{p.ID, p.Subtree} {
		if err := check(o); err != nil {
			return err
		}
	}
	for _, r := range p.Ranges {
		if err := check(r.Start); err != nil {
			return err
		}
		if err := check(r.End); err != nil {
			return err
		}
	}
	for i := range p.VarBinds {
		vb := &p.VarBinds[i]
		if err := check(vb.Name); err != nil {
			return err
		}
		if err := check(vb.Value); err != nil {
			return err
		}
		switch vb.Type {
		case TypeInteger, TypeOctetString, TypeNull, TypeOID, TypeCounter32, TypeGauge32,
			TypeTimeTicks, TypeOpaque, TypeCounter64, TypeNoSuchObject, TypeNoSuchInstance,
			TypeEndOfMibView:
		case TypeIPAddress:
			if len(vb.Bytes) != 4 {
				return fmt.Errorf("%w: IpAddress of %d bytes", ErrMalformed, len(vb.Bytes))
			}
		default:
			return fmt.Errorf("%w: varbind type %d", ErrMalformed, vb.Type)
		}
		if len(vb.Bytes) > maxString {
			return fmt.Errorf("%w: octet string of %d bytes", ErrTooLarge, len(vb.Bytes))
		}
	}
	if len(p.Descr) > maxString || len(p.Context) > maxString {
		return fmt.Errorf("%w: octet string too long", ErrTooLarge)
	}
	return nil
}

// Encode appends the PDU's wire form to dst, in network byte order when
// Flags has FlagNetworkByteOrder and little-endian otherwise. The context
// is written when Flags has FlagNonDefaultContext.
func (p *PDU) Encode(dst []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return dst, err
	}
	start := len(dst)
	e := &encoder{b: dst, bo: p.order()}
	e.b = append(e.b, 1, uint8(p.Type), p.Flags, 0)
	e.u32(p.SessionID)
	e.u32(p.TransactionID)
	e.u32(p.PacketID)
	e.u32(0) // payload length, patched below
	if p.Flags&FlagNonDefaultContext != 0 && hasContext(p.Type) {
		e.octets(p.Context)
	}
	switch p.Type {
	case PDUOpen:
		e.b = append(e.b, p.Timeout, 0, 0, 0)
		e.oid(p.ID, false)
		e.octets(p.Descr)
	case PDUClose:
		e.b = append(e.b, p.Reason, 0, 0, 0)
	case PDURegister, PDUUnregister:
		timeout := p.Timeout
		if p.Type == PDUUnregister {
			timeout = 0
		}
		e.b = append(e.b, timeout, p.Priority, p.RangeSubID, 0)
		e.oid(p.Subtree, false)
		if p.RangeSubID != 0 {
			e.u32(p.UpperBound)
		}
	case PDUGet, PDUGetNext, PDUGetBulk:
		if p.Type == PDUGetBulk {
			e.u16(p.NonRepeaters)
			e.u16(p.MaxRepetitions)
		}
		for _, r := range p.Ranges {
			e.oid(r.Start, r.Include)
			e.oid(r.End, false)
		}
	case PDUTestSet, PDUNotify, PDUIndexAllocate, PDUIndexDeallocate:
		for i := range p.VarBinds {
			e.varBind(&p.VarBinds[i])
		}
	case PDUAddAgentCaps:
		e.oid(p.ID, false)
		e.octets(p.Descr)
	case PDURemoveAgentCaps:
		e.oid(p.ID, false)
	case PDUResponse:
		e.u32(p.SysUpTime)
		e.u16(p.Error)
		e.u16(p.Index)
		for i := range p.VarBinds {
			e.varBind(&p.VarBinds[i])
		}
	}
	n := len(e.b) - start - headerLen
	if n > maxPayload {
		return dst, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, n)
	}
	e.bo.PutUint32(e.b[start+16:], uint32(n))
	return e.b, nil
}
