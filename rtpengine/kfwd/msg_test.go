package kfwd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// unhex reads hex with spaces and newlines in it.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var clean []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		clean = append(clean, strings.Fields(l)...)
	}
	b, err := hex.DecodeString(strings.Join(clean, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// The expected bytes below are written out field by field from the
// netlink and ctnetlink headers: little-endian nlmsghdr and nlattr
// headers, big-endian values, 4-byte alignment.
const tupleOrigV4 = `
3400 0180                      # len 52, CTA_TUPLE_ORIG|NESTED
  1400 0180                    # len 20, CTA_TUPLE_IP|NESTED
    0800 0100 7f000102         # CTA_IP_V4_SRC 127.0.1.2
    0800 0200 7f000001         # CTA_IP_V4_DST 127.0.0.1
  1c00 0280                    # len 28, CTA_TUPLE_PROTO|NESTED
    0500 0100 11 000000        # CTA_PROTO_NUM 17, padding
    0600 0200 1388 0000        # CTA_PROTO_SRC_PORT 5000, padding
    0600 0300 4e20 0000        # CTA_PROTO_DST_PORT 20000, padding
`

func TestEncodeCreate(t *testing.T) {
	f := Flow{
		Orig:    Tuple{Src: ap("127.0.1.2:5000"), Dst: ap("127.0.0.1:20000")},
		DNAT:    ap("127.0.2.2:6000"),
		SNAT:    ap("127.0.0.1:20002"),
		Timeout: 120,
	}
	got, err := EncodeCreate(7, f)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
d400 0000  0001  0506  07000000  00000000   # len 212, CTNL<<8|NEW, REQUEST|ACK|EXCL|CREATE, seq 7, port 0
02 00 0000                                   # nfgenmsg: AF_INET, version 0, resource 0
`+tupleOrigV4+`
3400 0280                                    # CTA_TUPLE_REPLY|NESTED, before NAT
  1400 0180
    0800 0100 7f000001                         # 127.0.0.1
    0800 0200 7f000102                         # 127.0.1.2
  1c00 0280
    0500 0100 11 000000
    0600 0200 4e20 0000                        # 20000
    0600 0300 1388 0000                        # 5000
2800 0d80                                    # len 40, CTA_NAT_DST|NESTED
  0800 0100 7f000202                         # CTA_NAT_V4_MINIP
  0800 0200 7f000202                         # CTA_NAT_V4_MAXIP
  1400 0380                                  # len 20, CTA_NAT_PROTO|NESTED
    0600 0100 1770 0000                      # CTA_PROTONAT_PORT_MIN 6000
    0600 0200 1770 0000                      # CTA_PROTONAT_PORT_MAX 6000
2800 0680                                    # len 40, CTA_NAT_SRC|NESTED
  0800 0100 7f000001
  0800 0200 7f000001
  1400 0380
    0600 0100 4e22 0000                      # PORT_MIN 20002
    0600 0200 4e22 0000
0800 0700 00000078                           # CTA_TIMEOUT 120
`)
	if !bytes.Equal(got, want) {
		t.Fatalf("create message:\n got %x\nwant %x", got, want)
	}
	if r := f.Reply(); r.Src != f.DNAT || r.Dst != f.SNAT {
		t.Fatalf("reply tuple %s", r)
	}
}

func TestEncodeDeleteGetDump(t *testing.T) {
	tu := Tuple{Src: ap("127.0.1.2:5000"), Dst: ap("127.0.0.1:20000")}
	tests := []struct {
		name string
		enc  func() ([]byte, error)
		want string
	}{
		{"delete orig", func() ([]byte, error) { return EncodeDelete(1, tu, false) },
			`4800 0000 0201 0500 01000000 00000000 02000000` + tupleOrigV4},
		{"delete reply", func() ([]byte, error) { return EncodeDelete(2, tu, true) },
			`4800 0000 0201 0500 02000000 00000000 02000000` + strings.Replace(tupleOrigV4, "3400 0180", "3400 0280", 1)},
		{"get", func() ([]byte, error) { return EncodeGet(3, tu) },
			`4800 0000 0101 0500 03000000 00000000 02000000` + tupleOrigV4},
		{"dump", func() ([]byte, error) { return EncodeDump(4, 2), nil },
			`1400 0000 0101 0103 04000000 00000000 02000000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestEncodeIPv6Tuple(t *testing.T) {
	tu := Tuple{Src: ap("[fd00::2]:5000"), Dst: ap("[fd00::1]:20000")}
	got, err := EncodeGet(9, tu)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
6000 0000 0101 0500 09000000 00000000 0a000000
4c00 0180
  2c00 0180
    1400 0300 fd000000000000000000000000000002
    1400 0400 fd000000000000000000000000000001
  1c00 0280
    0500 0100 11 000000
    0600 0200 1388 0000
    0600 0300 4e20 0000
`)
	if !bytes.Equal(got, want) {
		t.Fatalf("\n got %x\nwant %x", got, want)
	}
}

func TestEncodeRejectsMixedFamilies(t *testing.T) {
	bad := []Flow{
		{Orig: Tuple{Src: ap("127.0.0.2:1"), Dst: ap("[::1]:2")}, DNAT: ap("127.0.0.3:3"), SNAT: ap("127.0.0.1:4")},
		{Orig: Tuple{Src: ap("127.0.0.2:1"), Dst: ap("127.0.0.1:2")}, DNAT: ap("[::3]:3"), SNAT: ap("[::1]:4")},
		{},
	}
	for i, f := range bad {
		if _, err := EncodeCreate(1, f); !errors.Is(err, ErrFamily) {
			t.Errorf("flow %d: err %v, want ErrFamily", i, err)
		}
	}
	if _, err := EncodeDelete(1, Tuple{}, false); !errors.Is(err, ErrFamily) {
		t.Errorf("empty tuple: err %v", err)
	}
}

func TestParseEntry(t *testing.T) {
	// An entry as the kernel sends it: nfgenmsg, both tuples, status,
	// timeout and both directions' counters (the kernel adds more
	// attributes, which are skipped).
	body := unhex(t, `
02 00 0000
`+tupleOrigV4+strings.Replace(`
3400 0280
  1400 0180
    0800 0100 7f000202
    0800 0200 7f000001
  1c00 0280
    0500 0100 11 000000
    0600 0200 1770 0000
    0600 0300 4e22 0000
0800 0300 000001be
0800 0700 00000077
1c00 0980
  0c00 0100 0000000000000064
  0c00 0200 0000000000004330
1c00 0a80
  0c00 0100 0000000000000063
  0c00 0200 00000000000042c4
0800 0c00 12345678
`, "\n", " ", -1))
	e, err := ParseEntry(body)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{
		Orig:        Tuple{Src: ap("127.0.1.2:5000"), Dst: ap("127.0.0.1:20000")},
		Reply:       Tuple{Src: ap("127.0.2.2:6000"), Dst: ap("127.0.0.1:20002")},
		Status:      0x1be,
		Timeout:     119,
		OrigCnt:     Counters{Packets: 100, Bytes: 17200},
		ReplyCnt:    Counters{Packets: 99, Bytes: 17092},
		HasCounters: true,
	}
	if e != want {
		t.Fatalf("entry\n got %+v\nwant %+v", e, want)
	}
	if e.Status&StatusDstNAT == 0 || e.Status&StatusSrcNAT == 0 {
		t.Fatalf("status %#x lacks the NAT bits", e.Status)
	}
}

func TestParseTruncated(t *testing.T) {
	for _, b := range [][]byte{nil, {2, 0}, unhex(t, "02000000 3c00 0180 1400")} {
		if _, err := ParseEntry(b); err == nil {
			t.Errorf("ParseEntry(%x) = nil error", b)
		}
	}
	if _, err := splitMessages(unhex(t, "ff000000 0200 0000 01000000 00000000")); !errors.Is(err, ErrShort) {
		t.Errorf("splitMessages: %v", err)
	}
}

func TestSplitAndErrno(t *testing.T) {
	// An NLMSG_ERROR carrying -EEXIST (17) for seq 5, then a DONE.
	b := unhex(t, `
2400 0000 0200 0001 05000000 00000000  efffffff  14000000 0000 0000 05000000 00000000
1400 0000 0300 0200 05000000 00000000 00000000
`)
	msgs, err := splitMessages(b)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("split: %v %d", err, len(msgs))
	}
	if msgs[0].typ != nlmsgError || msgs[0].seq != 5 || msgs[1].typ != nlmsgDone {
		t.Fatalf("messages %+v", msgs)
	}
	if e, err := errnoOf(msgs[0].body); err != nil || e != 17 {
		t.Fatalf("errno %d %v", e, err)
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 8, 0, 3, 0, 0, 0, 1, 0xbe})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseEntry(b)
		_, _ = splitMessages(b)
	})
}

func BenchmarkParseEntry(b *testing.B) {
	f := Flow{Orig: Tuple{Src: ap("127.0.1.2:5000"), Dst: ap("127.0.0.1:20000")}, DNAT: ap("127.0.2.2:6000"), SNAT: ap("127.0.0.1:20002")}
	msg, err := EncodeCreate(1, f)
	if err != nil {
		b.Fatal(err)
	}
	body := msg[nlmsgHdrLen:]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseEntry(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeCreate(b *testing.B) {
	f := Flow{Orig: Tuple{Src: ap("127.0.1.2:5000"), Dst: ap("127.0.0.1:20000")}, DNAT: ap("127.0.2.2:6000"), SNAT: ap("127.0.0.1:20002")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeCreate(1, f); err != nil {
			b.Fatal(err)
		}
	}
}
