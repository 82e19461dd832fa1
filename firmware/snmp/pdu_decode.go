package snmp

import (
	"encoding/binary"
	"fmt"
	"io"
)

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
