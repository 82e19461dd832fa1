package snmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestOID(t *testing.T) {
	tests := []struct {
		a, b string
		cmp  int
	}{
		{"1.3.6.1", "1.3.6.1", 0},
		{"1.3.6", "1.3.6.1", -1},
		{"1.3.6.2", "1.3.6.1.9", 1},
		{"1.3.6.1.4.1.99999.1.10", "1.3.6.1.4.1.99999.1.9", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_"+tt.b, func(t *testing.T) {
			a, b := MustOID(tt.a), MustOID(tt.b)
			if got := a.Compare(b); got != tt.cmp {
				t.Fatalf("Compare = %d, want %d", got, tt.cmp)
			}
			if got := b.Compare(a); got != -tt.cmp {
				t.Fatalf("reverse Compare = %d, want %d", got, -tt.cmp)
			}
		})
	}
	for _, bad := range []string{"", ".", "1..3", "1.x", "1.4294967296", "-1"} {
		if _, err := ParseOID(bad); !errors.Is(err, ErrBadOID) {
			t.Errorf("ParseOID(%q) err = %v, want ErrBadOID", bad, err)
		}
	}
	if o := MustOID(".1.3.6.1.4"); o.String() != "1.3.6.1.4" || !o.HasPrefix(OID{1, 3}) || o.HasPrefix(OID{1, 4}) {
		t.Fatalf("leading dot or HasPrefix wrong: %v", o)
	}
}

// roundTrip encodes p, decodes it and compares.
func roundTrip(t *testing.T, p *PDU) *PDU {
	t.Helper()
	b, err := p.Encode(nil)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if len(b)%4 != 0 {
		t.Fatalf("encoded length %d not a multiple of 4", len(b))
	}
	q, n, err := DecodePDU(b)
	if err != nil {
		t.Fatalf("DecodePDU: %v", err)
	}
	if n != len(b) {
		t.Fatalf("consumed %d of %d bytes", n, len(b))
	}
	q2, err := ReadPDU(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(q, q2) {
		t.Fatalf("ReadPDU = %+v, %v; want %+v", q2, err, q)
	}
	return q
}

func TestPDURoundTrip(t *testing.T) {
	sub := Subtree.Append(1, 1, 1, 0)
	vbs := []VarBind{
		{Name: sub, Type: TypeOctetString, Bytes: []byte("abcde")},
		{Name: sub, Type: TypeInteger, Int: -7},
		{Name: sub, Type: TypeGauge32, Uint: 4294967295},
		{Name: sub, Type: TypeCounter32, Uint: 1},
		{Name: sub, Type: TypeTimeTicks, Uint: 100},
		{Name: sub, Type: TypeCounter64, Uint: 1 << 63},
		{Name: sub, Type: TypeOID, Value: OID{1, 3, 6, 1, 4, 1, 99999, 0, 1}},
		{Name: sub, Type: TypeIPAddress, Bytes: []byte{127, 0, 0, 1}},
		{Name: sub, Type: TypeOpaque, Bytes: []byte{}},
		{Name: OID{2, 5}, Type: TypeNull},
		{Name: sub, Type: TypeNoSuchObject},
		{Name: sub, Type: TypeNoSuchInstance},
		{Name: sub, Type: TypeEndOfMibView},
	}
	tests := []struct {
		name string
		pdu  PDU
	}{
		{"open", PDU{Header: Header{Type: PDUOpen}, Timeout: 5, ID: Subtree, Descr: []byte("OpenBorder")}},
		{"close", PDU{Header: Header{Type: PDUClose, SessionID: 9}, Reason: CloseShutdown}},
		{"register", PDU{Header: Header{Type: PDURegister, SessionID: 9, PacketID: 2}, Timeout: 5, Priority: 127, Subtree: Subtree}},
		{"register range", PDU{Header: Header{Type: PDURegister}, Priority: 1, RangeSubID: 7, Subtree: Subtree, UpperBound: 100001}},
		{"get", PDU{Header: Header{Type: PDUGet, TransactionID: 3}, Ranges: []SearchRange{{Start: sub}, {Start: OID{1, 2}}}}},
		{"getnext", PDU{Header: Header{Type: PDUGetNext}, Ranges: []SearchRange{{Start: Subtree, Include: true, End: Subtree.Append(2)}}}},
		{"getbulk", PDU{Header: Header{Type: PDUGetBulk}, NonRepeaters: 1, MaxRepetitions: 10, Ranges: []SearchRange{{Start: sub}, {Start: Subtree}}}},
		{"testset", PDU{Header: Header{Type: PDUTestSet}, VarBinds: vbs[:1]}},
		{"notify", PDU{Header: Header{Type: PDUNotify}, VarBinds: vbs}},
		{"ping", PDU{Header: Header{Type: PDUPing, SessionID: 1}}},
		{"ping context", PDU{Header: Header{Type: PDUPing, Flags: FlagNonDefaultContext}, Context: []byte("ctx")}},
		{"response", PDU{Header: Header{Type: PDUResponse, PacketID: 77}, SysUpTime: 12, Error: ErrCodeNotWritable, Index: 1, VarBinds: vbs}},
		{"cleanupset", PDU{Header: Header{Type: PDUCleanupSet}}},
		{"addagentcaps", PDU{Header: Header{Type: PDUAddAgentCaps}, ID: Subtree, Descr: []byte("x")}},
	}
	for _, tt := range tests {
		for _, flags := range []uint8{0, FlagNetworkByteOrder} {
			name := tt.name + map[uint8]string{0: "/little", FlagNetworkByteOrder: "/network"}[flags]
			t.Run(name, func(t *testing.T) {
				p := tt.pdu
				p.Flags |= flags
				q := roundTrip(t, &p)
				if !reflect.DeepEqual(&p, q) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", q, &p)
				}
			})
		}
	}
}

// TestPDUWire checks the exact bytes of a Get from RFC 2741's layout, in
// network byte order with the internet prefix compressed.
func TestPDUWire(t *testing.T) {
	p := &PDU{
		Header: Header{Type: PDUGet, Flags: FlagNetworkByteOrder, SessionID: 1, TransactionID: 2, PacketID: 3},
		Ranges: []SearchRange{{Start: OID{1, 3, 6, 1, 4, 1, 99999, 1}, Include: true}},
	}
	b, err := p.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		1, 5, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 20,
		3, 4, 1, 0, 0, 0, 0, 1, 0, 1, 0x86, 0x9f, 0, 0, 0, 1, // start: prefix 4, 1.99999.1, include
		0, 0, 0, 0, // null end
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("wire\n got % x\nwant % x", b, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := (&PDU{Header: Header{Type: PDUGet, Flags: FlagNetworkByteOrder}, Ranges: []SearchRange{{Start: Subtree}}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortPacket},
		{"short header", good[:19], ErrShortPacket},
		{"version 2", mut(func(b []byte) []byte { b[0] = 2; return b }), ErrBadVersion},
		{"type 0", mut(func(b []byte) []byte { b[1] = 0; return b }), ErrMalformed},
		{"type 19", mut(func(b []byte) []byte { b[1] = 19; return b }), ErrMalformed},
		{"payload not aligned", mut(func(b []byte) []byte { b[19] = 5; return b }), ErrMalformed},
		{"payload huge", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[16:], 1<<30); return b }), ErrTooLarge},
		{"payload missing", good[:len(good)-4], ErrShortPacket},
		{"oid too long", mut(func(b []byte) []byte { b[20] = 200; return b }), ErrMalformed},
		{"oid past end", mut(func(b []byte) []byte { b[20] = 9; return b }), ErrShortPacket},
		{"include 2", mut(func(b []byte) []byte { b[22] = 2; return b }), ErrMalformed},
		{"half a range", mut(func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			binary.BigEndian.PutUint32(b[16:], uint32(len(b)-20))
			return b
		}), ErrShortPacket},
		{"trailing bytes", func() []byte {
			b, _ := (&PDU{Header: Header{Type: PDUClose}, Reason: 1}).Encode(nil)
			b = append(b, 0, 0, 0, 0)
			binary.LittleEndian.PutUint32(b[16:], uint32(len(b)-20))
			return b
		}(), ErrMalformed},
		{"bad varbind type", func() []byte {
			b, _ := (&PDU{Header: Header{Type: PDUResponse}, VarBinds: []VarBind{{Name: OID{1}, Type: TypeNull}}}).Encode(nil)
			b[28] = 99
			return b
		}(), ErrMalformed},
		{"string too long", func() []byte {
			b, _ := (&PDU{Header: Header{Type: PDUOpen}, ID: OID{1}, Descr: []byte("abcd")}).Encode(nil)
			binary.LittleEndian.PutUint32(b[len(b)-8:], 1<<20)
			return b
		}(), ErrTooLarge},
		{"ip address of 3 bytes", func() []byte {
			b, _ := (&PDU{Header: Header{Type: PDUResponse}, VarBinds: []VarBind{{Name: OID{1}, Type: TypeOctetString, Bytes: []byte{1, 2, 3}}}}).Encode(nil)
			b[28] = byte(TypeIPAddress)
			return b
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := DecodePDU(tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (pdu %+v)", err, tt.want, p)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	long := make(OID, maxSubIDs+1)
	tests := []struct {
		name string
		p    PDU
		want error
	}{
		{"oid too long", PDU{Header: Header{Type: PDUGet}, Ranges: []SearchRange{{Start: long}}}, ErrMalformed},
		{"bad varbind type", PDU{Header: Header{Type: PDUNotify}, VarBinds: []VarBind{{Name: OID{1}, Type: 3}}}, ErrMalformed},
		{"ip of 5 bytes", PDU{Header: Header{Type: PDUNotify}, VarBinds: []VarBind{{Name: OID{1}, Type: TypeIPAddress, Bytes: make([]byte, 5)}}}, ErrMalformed},
		{"huge string", PDU{Header: Header{Type: PDUNotify}, VarBinds: []VarBind{{Name: OID{1}, Type: TypeOctetString, Bytes: make([]byte, maxString+1)}}}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.p.Encode(nil); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
