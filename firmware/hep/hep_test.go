package hep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
)

const invite = "INVITE sip:+4930123@127.0.0.1:5080 SIP/2.0\r\nCall-ID: a84b4c76e66710@pc33\r\nContent-Length: 0\r\n\r\n"

func TestRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 15, 30, 123456789, time.UTC)
	tests := []struct {
		name string
		p    Packet
	}{
		{"sip over udp v4", Packet{
			Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.2:5090"),
			Transport: TransportUDP, Time: ts, Type: ProtoSIP, AgentID: 2001, Password: "myHep",
			CorrelationID: "a84b4c76e66710@pc33", Payload: []byte(invite),
		}},
		{"sip over tcp v6 without auth", Packet{
			Src: netip.MustParseAddrPort("[::1]:40000"), Dst: netip.MustParseAddrPort("[::1]:5061"),
			Transport: TransportTCP, Time: ts, Type: ProtoSIP, Payload: []byte(invite),
		}},
		{"rtcp with correlation", Packet{
			Src: netip.MustParseAddrPort("127.0.0.1:20001"), Dst: netip.MustParseAddrPort("127.0.0.1:30001"),
			Transport: TransportUDP, Time: ts, Type: ProtoRTCP, AgentID: 7, CorrelationID: "call-1",
			Payload: []byte{0x81, 0xc8, 0x00, 0x06, 1, 2, 3, 4},
		}},
		{"empty payload", Packet{
			Src: netip.MustParseAddrPort("127.0.0.1:1"), Dst: netip.MustParseAddrPort("127.0.0.1:2"),
			Transport: TransportUDP, Time: ts, Type: ProtoLog, Payload: []byte{},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Append(nil, &tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != EncodedLen(&tt.p) {
				t.Errorf("encoded %d bytes, EncodedLen says %d", len(b), EncodedLen(&tt.p))
			}
			if !bytes.HasPrefix(b, []byte("HEP3")) || int(binary.BigEndian.Uint16(b[4:6])) != len(b) {
				t.Fatalf("bad header % x", b[:6])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.p
			want.Time = want.Time.Truncate(time.Microsecond)
			if got.Src != want.Src || got.Dst != want.Dst || got.Transport != want.Transport ||
				!got.Time.Equal(want.Time) || got.Type != want.Type || got.AgentID != want.AgentID ||
				got.Password != want.Password || got.CorrelationID != want.CorrelationID ||
				!bytes.Equal(got.Payload, want.Payload) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	p := Packet{Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.1:5080"),
		Time: time.Unix(1, 0), Type: ProtoSIP, Payload: []byte("x")}
	b, err := Append([]byte("prefix"), &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:6]) != "prefix" {
		t.Fatalf("prefix overwritten: %q", b[:6])
	}
	got, err := Decode(b[6:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Transport != TransportUDP {
		t.Errorf("zero transport encoded as %d, want UDP", got.Transport)
	}
}

func TestAppendErrors(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:5060")
	v6 := netip.MustParseAddrPort("[::1]:5060")
	tests := []struct {
		name string
		p    Packet
		want error
	}{
		{"mixed families", Packet{Src: v4, Dst: v6}, ErrAddress},
		{"no source", Packet{Dst: v4}, ErrAddress},
		{"too large", Packet{Src: v4, Dst: v4, Payload: make([]byte, 65535)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Append(nil, &tt.p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(b) != 0 {
				t.Errorf("appended %d bytes on error", len(b))
			}
		})
	}
}

// chunk builds one raw chunk for hand-made packets.
func chunk(vendor, typ uint16, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, vendor)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(v)))
	return append(b, v...)
}

func packet(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	b := append([]byte("HEP3"), 0, 0)
	binary.BigEndian.PutUint16(b[4:], uint16(6+len(body)))
	return append(b, body...)
}

func TestDecodeErrors(t *testing.T) {
	fam4 := chunk(0, chunkFamily, []byte{2})
	proto := chunk(0, chunkProto, []byte{17})
	src := chunk(0, chunkSrcIPv4, []byte{127, 0, 0, 1})
	dst := chunk(0, chunkDstIPv4, []byte{127, 0, 0, 1})
	sec := chunk(0, chunkTimeSec, []byte{0, 0, 0, 1})
	pay := chunk(0, chunkPayload, []byte("OPTIONS"))
	good := packet(fam4, proto, src, dst, sec, pay)
	if _, err := Decode(good); err != nil {
		t.Fatalf("hand-made packet: %v", err)
	}
	badLen := packet(fam4, proto, src, dst, sec, pay)
	badLen = append(badLen, 0) // total length no longer matches
	shortChunk := packet(fam4, proto, src, dst, sec, pay)
	binary.BigEndian.PutUint16(shortChunk[6+4:], 3)
	overChunk := packet(fam4, proto, src, dst, sec, pay)
	binary.BigEndian.PutUint16(overChunk[6+4:], 200)

	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only prefix", []byte("HEP"), ErrShort},
		{"wrong magic", append([]byte("HEP2"), good[4:]...), ErrMagic},
		{"trailing byte", badLen, ErrLength},
		{"chunk length below header", shortChunk, ErrLength},
		{"chunk past end", overChunk, ErrShort},
		{"dangling chunk header", packet(fam4, proto, src, dst, sec, pay, []byte{0, 0, 0}), ErrShort},
		{"family wrong size", packet(chunk(0, chunkFamily, []byte{2, 0}), proto, src, dst, sec, pay), ErrChunk},
		{"port wrong size", packet(fam4, proto, src, dst, sec, pay, chunk(0, chunkSrcPort, []byte{1})), ErrChunk},
		{"unknown family", packet(chunk(0, chunkFamily, []byte{7}), proto, src, dst, sec, pay), ErrChunk},
		{"no family", packet(proto, src, dst, sec, pay), ErrMissing},
		{"no payload", packet(fam4, proto, src, dst, sec), ErrMissing},
		{"no time", packet(fam4, proto, src, dst, pay), ErrMissing},
		{"v6 family with v4 addresses", packet(chunk(0, chunkFamily, []byte{10}), proto, src, dst, sec, pay), ErrMissing},
		{"microseconds out of range", packet(fam4, proto, src, dst, sec, pay, chunk(0, chunkTimeUsec, []byte{0, 0x0f, 0x42, 0x40})), ErrChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeSkipsUnknownChunks(t *testing.T) {
	b := packet(
		chunk(0, chunkFamily, []byte{2}),
		chunk(0x0101, chunkFamily, []byte{99, 99, 99}), // another vendor's chunk 1
		chunk(0, chunkProto, []byte{6}),
		chunk(0, chunkSrcIPv4, []byte{127, 0, 0, 1}),
		chunk(0, chunkDstIPv4, []byte{127, 0, 0, 2}),
		chunk(0, 0x0020, []byte{1, 2}), // MOS, not interpreted
		chunk(0, chunkTimeSec, []byte{0, 0, 0, 5}),
		chunk(0, chunkPayload, []byte("BYE")),
	)
	p, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Transport != TransportTCP || string(p.Payload) != "BYE" || p.Dst.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("decoded %+v", p)
	}
}

func TestPacketLength(t *testing.T) {
	p := Packet{Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.1:5080"),
		Time: time.Unix(1, 0), Type: ProtoSIP, Payload: []byte(invite)}
	b, err := Append(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := PacketLength(b[:6])
	if err != nil || n != len(b) {
		t.Fatalf("PacketLength = %d, %v; want %d", n, err, len(b))
	}
	if _, err := PacketLength([]byte("HEP3\x00\x02")); !errors.Is(err, ErrLength) {
		t.Errorf("length below header: err = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	p := Packet{Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.1:5080"),
		Transport: TransportUDP, Time: time.Unix(1700000000, 5000), Type: ProtoSIP, AgentID: 9,
		Password: "pw", CorrelationID: "cid", Payload: []byte(invite)}
	b, _ := Append(nil, &p)
	f.Add(b)
	p.Src, p.Dst = netip.MustParseAddrPort("[::1]:1"), netip.MustParseAddrPort("[::1]:2")
	b, _ = Append(nil, &p)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same packet.
		out, err := Append(nil, &p)
		if err != nil {
			t.Fatalf("decoded packet does not encode: %v (%+v)", err, p)
		}
		q, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		// IPv4-mapped IPv6 addresses are sent as IPv4.
		same := func(a, b netip.AddrPort) bool { return a.Addr().Unmap() == b.Addr().Unmap() && a.Port() == b.Port() }
		if !same(q.Src, p.Src) || !same(q.Dst, p.Dst) || !q.Time.Equal(p.Time) || !bytes.Equal(q.Payload, p.Payload) ||
			q.CorrelationID != p.CorrelationID || q.Password != p.Password || q.Type != p.Type {
			t.Fatalf("second round trip differs:\n%+v\n%+v", p, q)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	p := Packet{Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.1:5080"),
		Transport: TransportUDP, Time: time.Now(), Type: ProtoSIP, AgentID: 9, Password: "pw",
		CorrelationID: "a84b4c76e66710@pc33", Payload: bytes.Repeat([]byte(invite), 8)}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Payload)))
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	p := Packet{Src: netip.MustParseAddrPort("127.0.0.1:5060"), Dst: netip.MustParseAddrPort("127.0.0.1:5080"),
		Transport: TransportUDP, Time: time.Now(), Type: ProtoSIP, AgentID: 9,
		Payload: bytes.Repeat([]byte(invite), 8)}
	buf, err := Append(nil, &p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
