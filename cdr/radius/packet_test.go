package radius

import (
	"bytes"
	"crypto/md5"
	"errors"
	"strings"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	p := &Packet{Code: CodeAccountingRequest, Identifier: 7, Attributes: []Attribute{
		{AttrAcctStatusType, u32(StatusStart)},
		{AttrAcctSessionID, []byte("call-1")},
		{AttrUserName, []byte("alice")},
	}}
	b, err := Encode(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{4, 7, 0, 20 + 6 + 8 + 7}
	if !bytes.Equal(b[:4], want) || len(b) != 41 {
		t.Fatalf("header %v, %d bytes", b[:4], len(b))
	}
	if !bytes.Equal(b[20:26], []byte{40, 6, 0, 0, 0, 1}) || !bytes.Equal(b[26:34], []byte("\x2c\x08call-1")) {
		t.Fatalf("attributes % x", b[20:])
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Code != p.Code || got.Identifier != 7 || len(got.Attributes) != 3 || attrString(got, AttrUserName) != "alice" {
		t.Fatalf("decoded %+v", got)
	}
	// Bytes after the length field are padding.
	if got, err := Decode(append(b, 0xff, 0xff)); err != nil || len(got.Attributes) != 3 {
		t.Fatalf("with padding: %v", err)
	}
}

func TestAuthenticators(t *testing.T) {
	p := &Packet{Code: CodeAccountingRequest, Identifier: 1, Attributes: []Attribute{{AttrAcctSessionID, []byte("s")}}}
	b, _ := Encode(nil, p)
	SignRequest(b, "secret")
	// RFC 2866 section 3, computed independently.
	zeroed := append([]byte(nil), b...)
	clear(zeroed[4:20])
	sum := md5.Sum(append(zeroed, "secret"...))
	if !bytes.Equal(b[4:20], sum[:]) {
		t.Fatal("request authenticator is not MD5(packet with zero authenticator + secret)")
	}
	if !VerifyRequest(b, "secret") || VerifyRequest(b, "other") {
		t.Fatal("VerifyRequest")
	}
	b[len(b)-1] ^= 1
	if VerifyRequest(b, "secret") {
		t.Fatal("tampered request verified")
	}

	var reqAuth [16]byte
	copy(reqAuth[:], sum[:])
	resp := []byte{5, 1, 0, 20}
	resp = append(resp, make([]byte, 16)...)
	SignResponse(resp, reqAuth, "secret")
	want := md5.Sum(append(append([]byte{5, 1, 0, 20}, reqAuth[:]...), "secret"...))
	if !bytes.Equal(resp[4:20], want[:]) {
		t.Fatal("response authenticator is not MD5(code+id+length+request auth+attributes+secret)")
	}
	if !VerifyResponse(resp, reqAuth, "secret") || VerifyResponse(resp, reqAuth, "wrong") || VerifyResponse(resp, [16]byte{}, "secret") {
		t.Fatal("VerifyResponse")
	}
	if VerifyResponse(resp[:10], reqAuth, "secret") {
		t.Fatal("short response verified")
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "shorter than the header"},
		{"short", make([]byte, 19), "shorter than the header"},
		{"length below header", append([]byte{5, 1, 0, 19}, make([]byte, 16)...), "length field 19"},
		{"length beyond data", append([]byte{5, 1, 0, 30}, make([]byte, 16)...), "length field 30"},
		{"length beyond max", append([]byte{5, 1, 0x10, 1}, make([]byte, 4097)...), "length field 4097"},
		{"attribute length 0", append([]byte{5, 1, 0, 22}, append(make([]byte, 16), 1, 0)...), "length 0"},
		{"attribute length 1", append([]byte{5, 1, 0, 22}, append(make([]byte, 16), 1, 1)...), "length 1"},
		{"attribute overruns", append([]byte{5, 1, 0, 23}, append(make([]byte, 16), 1, 9, 0)...), "length 9"},
		{"truncated attribute header", append([]byte{5, 1, 0, 21}, append(make([]byte, 16), 1)...), "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestEncodeTooLong(t *testing.T) {
	if _, err := Encode(nil, &Packet{Attributes: []Attribute{{1, make([]byte, 254)}}}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("attribute: %v", err)
	}
	var attrs []Attribute
	for range 20 {
		attrs = append(attrs, Attribute{1, make([]byte, 253)})
	}
	if _, err := Encode(nil, &Packet{Attributes: attrs}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("packet: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	p := &Packet{Code: CodeAccountingResponse, Identifier: 3, Attributes: []Attribute{{18, []byte("ok")}, {26, make([]byte, 10)}}}
	b, _ := Encode(nil, p)
	f.Add(b)
	f.Add(append([]byte{5, 1, 0, 20}, make([]byte, 16)...))
	f.Add([]byte{5, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		// What decodes encodes back to the same bytes (up to the length).
		out, err := Encode(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		n := int(b[2])<<8 | int(b[3])
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoded % x, want % x", out, b[:n])
		}
		_ = VerifyResponse(b, [16]byte{}, "s")
	})
}

func FuzzSpoolEntry(f *testing.F) {
	e := &event{attrs: []byte{40, 6, 0, 0, 0, 2}}
	f.Add(e.marshal())
	f.Add([]byte("OBA1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := unmarshalEvent(1, b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.marshal(), b) {
			t.Fatal("spool entry does not round-trip")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	p := &Packet{Code: CodeAccountingResponse, Identifier: 3, Attributes: []Attribute{{18, []byte("ok")}, {44, []byte("call-123456-1")}}}
	pkt, _ := Encode(nil, p)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Decode(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSign(b *testing.B) {
	p := &Packet{Code: CodeAccountingRequest, Identifier: 3, Attributes: []Attribute{
		{AttrAcctStatusType, u32(StatusStop)}, {AttrAcctSessionID, []byte("call-123456-1")},
		{AttrUserName, []byte("alice")}, {AttrCalledStationID, []byte("+49301234567")},
		{AttrAcctSessionTime, u32(60)}, {AttrEventTimestamp, u32(1790000000)},
	}}
	buf, _ := Encode(nil, p)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf, _ = Encode(buf[:0], p)
		SignRequest(buf, "secret")
	}
}
