package radius

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// Code is a RADIUS packet type.
type Code uint8

// Packet codes used for accounting (RFC 2866 section 3).
const (
	CodeAccountingRequest  Code = 4
	CodeAccountingResponse Code = 5
)

// Attribute types sent by the client (RFC 2865, RFC 2866).
const (
	AttrUserName           = 1
	AttrNASIPAddress       = 4
	AttrCalledStationID    = 30
	AttrCallingStationID   = 31
	AttrNASIdentifier      = 32
	AttrAcctStatusType     = 40
	AttrAcctDelayTime      = 41
	AttrAcctSessionID      = 44
	AttrAcctSessionTime    = 46
	AttrAcctTerminateCause = 49
	AttrEventTimestamp     = 55
)

// Acct-Status-Type values.
const (
	StatusStart         uint32 = 1
	StatusStop          uint32 = 2
	StatusInterimUpdate uint32 = 3
)

// Sizes of the wire format (RFC 2865 section 3).
const (
	HeaderLen       = 20
	MaxPacketLen    = 4096
	MaxAttributeLen = 253 // value bytes
)

// Attribute is one type-length-value attribute.
type Attribute struct {
	Type  uint8
	Value []byte
}

// Packet is a RADIUS packet.
type Packet struct {
	Code          Code
	Identifier    uint8
	Authenticator [16]byte
	Attributes    []Attribute
}

// Get returns the value of the first attribute of type t.
func (p *Packet) Get(t uint8) ([]byte, bool) {
	for _, a := range p.Attributes {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// Encode appends the packet's wire form to dst, with the Authenticator as
// it is in p.
func Encode(dst []byte, p *Packet) ([]byte, error) {
	start := len(dst)
	dst = append(dst, byte(p.Code), p.Identifier, 0, 0)
	dst = append(dst, p.Authenticator[:]...)
	var err error
	for _, a := range p.Attributes {
		if dst, err = appendAttribute(dst, a.Type, a.Value); err != nil {
			return dst[:start], err
		}
	}
	n := len(dst) - start
	if n > MaxPacketLen {
		return dst[:start], fmt.Errorf("%w: packet of %d bytes", ErrTooLong, n)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	return dst, nil
}

func appendAttribute(dst []byte, t uint8, v []byte) ([]byte, error) {
	if len(v) > MaxAttributeLen {
		return dst, fmt.Errorf("%w: attribute %d of %d bytes", ErrTooLong, t, len(v))
	}
	dst = append(dst, t, byte(len(v)+2))
	return append(dst, v...), nil
}

// Decode parses a packet. Attribute values alias b. Bytes after the length
// given in the header are ignored, as RFC 2865 requires.
func Decode(b []byte) (*Packet, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrMalformed, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < HeaderLen || n > MaxPacketLen || n > len(b) {
		return nil, fmt.Errorf("%w: length field %d for %d bytes", ErrMalformed, n, len(b))
	}
	p := &Packet{Code: Code(b[0]), Identifier: b[1]}
	copy(p.Authenticator[:], b[4:20])
	attrs, err := decodeAttributes(b[HeaderLen:n], nil)
	if err != nil {
		return nil, err
	}
	p.Attributes = attrs
	return p, nil
}

func decodeAttributes(b []byte, out []Attribute) ([]Attribute, error) {
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: truncated attribute header", ErrMalformed)
		}
		l := int(b[1])
		if l < 2 || l > len(b) {
			return nil, fmt.Errorf("%w: attribute %d has length %d with %d bytes left", ErrMalformed, b[0], l, len(b))
		}
		out = append(out, Attribute{Type: b[0], Value: b[2:l:l]})
		b = b[l:]
	}
	return out, nil
}

// SignRequest sets the Request Authenticator of an encoded
// Accounting-Request (RFC 2866 section 3): MD5 over the packet with 16 zero
// octets in place of the authenticator, followed by the shared secret.
func SignRequest(pkt []byte, secret string) {
	clear(pkt[4:20])
	h := md5.New()
	h.Write(pkt)
	h.Write([]byte(secret))
	h.Sum(pkt[4:4:20])
}

// VerifyRequest checks the Request Authenticator of an encoded
// Accounting-Request.
func VerifyRequest(pkt []byte, secret string) bool {
	if len(pkt) < HeaderLen {
		return false
	}
	var got [16]byte
	copy(got[:], pkt[4:20])
	c := append([]byte(nil), pkt...)
	SignRequest(c, secret)
	return subtle.ConstantTimeCompare(got[:], c[4:20]) == 1
}

// SignResponse sets the Response Authenticator of an encoded response:
// MD5(Code+Identifier+Length+RequestAuthenticator+Attributes+Secret).
func SignResponse(resp []byte, requestAuth [16]byte, secret string) {
	copy(resp[4:20], requestAuth[:])
	h := md5.New()
	h.Write(resp)
	h.Write([]byte(secret))
	h.Sum(resp[4:4:20])
}

// VerifyResponse checks the Response Authenticator of an encoded response
// to a request whose authenticator was requestAuth. Only the bytes within
// the packet's length field count.
func VerifyResponse(resp []byte, requestAuth [16]byte, secret string) bool {
	if len(resp) < HeaderLen {
		return false
	}
	n := int(binary.BigEndian.Uint16(resp[2:4]))
	if n < HeaderLen || n > len(resp) {
		return false
	}
	c := append([]byte(nil), resp[:n]...)
	SignResponse(c, requestAuth, secret)
	return subtle.ConstantTimeCompare(resp[4:20], c[4:20]) == 1
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
