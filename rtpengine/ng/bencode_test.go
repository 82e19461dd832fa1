package ng

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"string", "4:spam", Str("spam")},
		{"empty string", "0:", Str("")},
		{"binary string", "3:\x00\xffe", Bytes([]byte{0, 0xff, 'e'})},
		{"int", "i42e", Int(42)},
		{"zero", "i0e", Int(0)},
		{"negative", "i-7e", Int(-7)},
		{"max int", "i9223372036854775807e", Int(math.MaxInt64)},
		{"min int", "i-9223372036854775808e", Int(math.MinInt64)},
		{"list", "l4:spami3ee", List(Str("spam"), Int(3))},
		{"empty list", "le", Value{Kind: KindList}},
		{"dict unsorted", "d1:bi1e1:a1:xe", Value{Kind: KindDict, Dict: []Entry{
			{Key: []byte("b"), Value: Int(1)}, {Key: []byte("a"), Value: Str("x")}}}},
		{"nested", "d4:listl1:ad1:k1:veee", Value{Kind: KindDict, Dict: []Entry{
			{Key: []byte("list"), Value: List(Str("a"), Value{Kind: KindDict, Dict: []Entry{{Key: []byte("k"), Value: Str("v")}}})}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !equal(got, tt.want) {
				t.Fatalf("Decode(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if enc := Encode(got); string(enc) != tt.in {
				t.Fatalf("Encode round trip = %q, want %q", enc, tt.in)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"empty", "", Limits{}, ErrTruncated},
		{"truncated string", "10:abc", Limits{}, ErrTruncated},
		{"truncated int", "i12", Limits{}, ErrTruncated},
		{"unterminated list", "l1:a", Limits{}, ErrTruncated},
		{"unterminated dict", "d1:a1:b", Limits{}, ErrTruncated},
		{"dict missing value", "d1:ae", Limits{}, ErrSyntax},
		{"int key", "di1ei2ee", Limits{}, ErrSyntax},
		{"bad start", "x", Limits{}, ErrSyntax},
		{"empty int", "ie", Limits{}, ErrSyntax},
		{"minus only", "i-e", Limits{}, ErrSyntax},
		{"leading zero", "i03e", Limits{}, ErrSyntax},
		{"negative zero", "i-0e", Limits{}, ErrSyntax},
		{"int junk", "i1x2e", Limits{}, ErrSyntax},
		{"negative length", "-1:a", Limits{}, ErrSyntax},
		{"length leading zero", "01:a", Limits{}, ErrSyntax},
		{"overflow", "i9223372036854775808e", Limits{}, ErrTooLarge},
		{"too many digits", "i12345678901234567890e", Limits{}, ErrTooLarge},
		{"huge length", "99999999999:x", Limits{}, ErrTooLarge},
		{"length beyond input", "65000:x", Limits{}, ErrTruncated},
		{"trailing", "i1ei2e", Limits{}, ErrTrailing},
		{"deep lists", strings.Repeat("l", 40) + strings.Repeat("e", 40), Limits{}, ErrTooDeep},
		{"deep dicts", strings.Repeat("d1:a", 5) + "i1e" + strings.Repeat("e", 5), Limits{MaxDepth: 4}, ErrTooDeep},
		{"too many items", "l" + strings.Repeat("i1e", 20) + "e", Limits{MaxItems: 10}, ErrTooLarge},
		{"too big input", "4:spam", Limits{MaxSize: 3}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeLimits([]byte(tt.in), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeLimits(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestDictSetGet(t *testing.T) {
	d := NewDict(2)
	d.Set("result", Str("ok"))
	d.Set("n", Int(1))
	d.Set("result", Str("pong"))
	if got := string(Encode(d)); got != "d6:result4:pong1:ni1ee" {
		t.Fatalf("Encode = %q", got)
	}
	if v, ok := d.Get("n"); !ok || v.Int != 1 {
		t.Fatalf("Get(n) = %+v, %v", v, ok)
	}
	if _, ok := d.Get("missing"); ok {
		t.Fatal("Get(missing) ok")
	}
	if _, ok := Int(1).Get("x"); ok {
		t.Fatal("Get on integer ok")
	}
	i := Int(3)
	i.Set("x", Int(1)) // no effect on a non-dictionary
	if i.Kind != KindInt || i.Int != 3 {
		t.Fatalf("Set changed a non-dictionary: %+v", i)
	}
}

func equal(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case KindString:
		return bytes.Equal(a.Str, b.Str)
	case KindInt:
		return a.Int == b.Int
	case KindList:
		if len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	case KindDict:
		if len(a.Dict) != len(b.Dict) {
			return false
		}
		for i := range a.Dict {
			if !bytes.Equal(a.Dict[i].Key, b.Dict[i].Key) || !equal(a.Dict[i].Value, b.Dict[i].Value) {
				return false
			}
		}
		return true
	}
	return true
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"d7:command4:pinge",
		"d7:command5:offer7:call-id3:abc8:from-tag2:ft3:sdp10:v=0\r\no=x\r\n5:flagsl13:trust-addressee",
		"l" + strings.Repeat("l", 33),
		"i-9223372036854775808e",
		"99999999999:x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeLimits(b, Limits{MaxSize: 1 << 16, MaxDepth: 16, MaxItems: 1024})
		if err != nil {
			return
		}
		// A decoded value re-encodes to the same bytes and decodes again equal.
		enc := Encode(v)
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encode = %q, input %q", enc, b)
		}
		v2, err := Decode(enc)
		if err != nil || !equal(v, v2) {
			t.Fatalf("second decode: %v", err)
		}
	})
}

var benchMsg = []byte("d7:command5:offer7:call-id24:a84b4c76e66710@pc33.atla8:from-tag10:1928301774" +
	"3:sdp140:v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n" +
	"5:flagsl13:trust-address9:symmetrice7:replacel6:origin18:session-connectione" +
	"13:received-froml3:IP49:127.0.0.1e9:directionl8:internal8:externalee")

func BenchmarkDecode(b *testing.B) {
	if _, err := Decode(benchMsg); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMsg)))
	for b.Loop() {
		if _, err := Decode(benchMsg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	v, err := Decode(benchMsg)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMsg)))
	for b.Loop() {
		buf = AppendEncode(buf[:0], v)
	}
}
