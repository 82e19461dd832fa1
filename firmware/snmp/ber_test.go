package snmp

import (
	"errors"
	"fmt"
)

// A minimal BER reader for the SNMPv2c notifications snmpd sends to the
// test's trap sink: just enough to pull out the variable bindings.

type berTLV struct {
	tag  byte
	body []byte
}

func berRead(b []byte) (berTLV, []byte, error) {
	if len(b) < 2 {
		return berTLV{}, nil, errors.New("ber: short")
	}
	tag, l := b[0], int(b[1])
	b = b[2:]
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || len(b) < n {
			return berTLV{}, nil, errors.New("ber: bad length")
		}
		l = 0
		for _, c := range b[:n] {
			l = l<<8 | int(c)
		}
		b = b[n:]
	}
	if l > len(b) {
		return berTLV{}, nil, errors.New("ber: truncated")
	}
	return berTLV{tag: tag, body: b[:l]}, b[l:], nil
}

func berOID(b []byte) (OID, error) {
	if len(b) == 0 {
		return nil, errors.New("ber: empty oid")
	}
	o := OID{uint32(b[0]) / 40, uint32(b[0]) % 40}
	var v uint32
	for _, c := range b[1:] {
		v = v<<7 | uint32(c&0x7f)
		if c&0x80 == 0 {
			o = append(o, v)
			v = 0
		}
	}
	return o, nil
}

func berUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// trapVar is one decoded binding: the OID and a printable value.
type trapVar struct {
	name  OID
	value string
}

// decodeV2Trap returns the community and bindings of an SNMPv2c
// SNMPv2-Trap or InformRequest message.
func decodeV2Trap(b []byte) (string, []trapVar, error) {
	msg, _, err := berRead(b)
	if err != nil || msg.tag != 0x30 {
		return "", nil, fmt.Errorf("message: %v", err)
	}
	ver, rest, err := berRead(msg.body)
	if err != nil || ver.tag != 0x02 || berUint(ver.body) != 1 {
		return "", nil, fmt.Errorf("version: %v", err)
	}
	comm, rest, err := berRead(rest)
	if err != nil || comm.tag != 0x04 {
		return "", nil, fmt.Errorf("community: %v", err)
	}
	pdu, _, err := berRead(rest)
	if err != nil || (pdu.tag != 0xa7 && pdu.tag != 0xa6) {
		return "", nil, fmt.Errorf("pdu tag %#x: %v", pdu.tag, err)
	}
	rest = pdu.body
	for i := 0; i < 3; i++ { // request-id, error-status, error-index
		if _, rest, err = berRead(rest); err != nil {
			return "", nil, err
		}
	}
	list, _, err := berRead(rest)
	if err != nil || list.tag != 0x30 {
		return "", nil, fmt.Errorf("varbind list: %v", err)
	}
	var vars []trapVar
	for rest = list.body; len(rest) > 0; {
		var vb berTLV
		if vb, rest, err = berRead(rest); err != nil {
			return "", nil, err
		}
		name, vrest, err := berRead(vb.body)
		if err != nil || name.tag != 0x06 {
			return "", nil, fmt.Errorf("varbind name: %v", err)
		}
		o, err := berOID(name.body)
		if err != nil {
			return "", nil, err
		}
		val, _, err := berRead(vrest)
		if err != nil {
			return "", nil, err
		}
		var s string
		switch val.tag {
		case 0x04:
			s = string(val.body)
		case 0x06:
			vo, err := berOID(val.body)
			if err != nil {
				return "", nil, err
			}
			s = vo.String()
		default:
			s = fmt.Sprint(berUint(val.body))
		}
		vars = append(vars, trapVar{name: o, value: s})
	}
	return string(comm.body), vars, nil
}
