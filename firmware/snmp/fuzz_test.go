package snmp

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodePDU feeds arbitrary bytes to the decoder, which must return an
// error or a PDU that encodes back to an equivalent PDU.
func FuzzDecodePDU(f *testing.F) {
	for _, p := range seedPDUs() {
		b, err := p.Encode(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := DecodePDU(b)
		if err != nil {
			return
		}
		if n > len(b) || n%4 != 0 {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		out, err := p.Encode(nil)
		if err != nil {
			t.Fatalf("decoded pdu does not encode: %v", err)
		}
		q, _, err := DecodePDU(out)
		if err != nil {
			t.Fatalf("re-encoded pdu does not decode: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
		}
		if _, err := ReadPDU(bytes.NewReader(b)); err != nil {
			t.Fatalf("ReadPDU fails where DecodePDU succeeded: %v", err)
		}
	})
}

func seedPDUs() []*PDU {
	r := Subtree.Append(1, 3, 2, 1, 2)
	return []*PDU{
		{Header: Header{Type: PDUGet, Flags: FlagNetworkByteOrder, SessionID: 1, PacketID: 2}, Ranges: []SearchRange{{Start: r}}},
		{Header: Header{Type: PDUGetNext}, Ranges: []SearchRange{{Start: Subtree, Include: true, End: Subtree.Append(2)}}},
		{Header: Header{Type: PDUGetBulk, Flags: FlagNonDefaultContext}, Context: []byte("c"), NonRepeaters: 1, MaxRepetitions: 9,
			Ranges: []SearchRange{{Start: r}, {Start: Subtree}}},
		{Header: Header{Type: PDUTestSet}, VarBinds: []VarBind{{Name: r, Type: TypeOctetString, Bytes: []byte("abc")}}},
		{Header: Header{Type: PDUResponse, Flags: FlagNetworkByteOrder}, Error: 0, VarBinds: []VarBind{
			{Name: r, Type: TypeCounter64, Uint: 7}, {Name: r, Type: TypeIPAddress, Bytes: []byte{127, 0, 0, 1}},
			{Name: r, Type: TypeOID, Value: Subtree}, {Name: r, Type: TypeEndOfMibView}}},
		{Header: Header{Type: PDUOpen}, Timeout: 5, ID: Subtree, Descr: []byte("x")},
		{Header: Header{Type: PDURegister}, RangeSubID: 3, Subtree: Subtree, UpperBound: 9},
		{Header: Header{Type: PDUClose}, Reason: CloseShutdown},
		{Header: Header{Type: PDUCleanupSet}},
	}
}

func BenchmarkDecodeGetBulk(b *testing.B) {
	buf, err := seedPDUs()[2].Encode(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, _, err := DecodePDU(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswerWalkStep is one GetNext of a walk: snapshot, mapping and
// search, as served per request.
func BenchmarkAnswerWalkStep(b *testing.B) {
	a := &Agent{src: SourceFunc(testSnapshot)}
	p := &PDU{Header: Header{Type: PDUGetNext}, Ranges: []SearchRange{{Start: Subtree.Append(1, 3, 2, 1, 4, 2)}}}
	b.ReportAllocs()
	for b.Loop() {
		if code, _, vbs := a.answer(p); code != 0 || len(vbs) != 1 {
			b.Fatal("bad answer")
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	s := testSnapshot()
	v := buildView(&s)
	p := &PDU{Header: Header{Type: PDUResponse, Flags: FlagNetworkByteOrder}, VarBinds: v}
	buf, _ := p.Encode(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		var err error
		if buf, err = p.Encode(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
