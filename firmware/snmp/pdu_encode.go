package snmp

import (
	"fmt"
)

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
