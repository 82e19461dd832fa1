package codecs

import (
	"math"
	"testing"
)

func TestG711KnownValues(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"ulaw encode 0", int(UlawEncode(0)), 0xFF},
		{"ulaw decode 0xFF", int(UlawDecode(0xFF)), 0},
		{"ulaw decode 0x7F (negative zero)", int(UlawDecode(0x7F)), 0},
		{"ulaw encode max", int(UlawEncode(32767)), 0x80},
		{"ulaw encode min", int(UlawEncode(-32768)), 0x00},
		{"ulaw decode 0x80", int(UlawDecode(0x80)), 32124},
		{"ulaw decode 0x00", int(UlawDecode(0x00)), -32124},
		{"ulaw decode 0xFE", int(UlawDecode(0xFE)), 8},
		{"ulaw decode 0x7E", int(UlawDecode(0x7E)), -8},
		{"ulaw encode 1000", int(UlawEncode(1000)), 0xCE},
		{"alaw encode 0", int(AlawEncode(0)), 0xD5},
		{"alaw decode 0xD5", int(AlawDecode(0xD5)), 8},
		{"alaw decode 0x55", int(AlawDecode(0x55)), -8},
		{"alaw encode -1", int(AlawEncode(-1)), 0x55},
		{"alaw encode max", int(AlawEncode(32767)), 0xAA},
		{"alaw decode 0xAA", int(AlawDecode(0xAA)), 32256},
		{"alaw decode 0x2A", int(AlawDecode(0x2A)), -32256},
		{"alaw encode 1000", int(AlawEncode(1000)), 0xFA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %#x (%d), want %#x (%d)", tt.got, tt.got, tt.want, tt.want)
			}
		})
	}
}

// Every code word decodes to a value that encodes back to the same code
// word, except µ-law's negative zero (0x7F), which becomes positive zero.
func TestG711CodeRoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		want := b
		if b == 0x7F {
			want = 0xFF
		}
		if got := UlawEncode(UlawDecode(b)); got != want {
			t.Errorf("ulaw %#x -> %d -> %#x", b, UlawDecode(b), got)
		}
		if got := AlawEncode(AlawDecode(b)); got != b {
			t.Errorf("alaw %#x -> %d -> %#x", b, AlawDecode(b), got)
		}
	}
}

// Every linear sample survives encode/decode within half a quantisation
// step of its segment, keeps its sign, and the code is monotonic.
func TestG711LinearRoundTrip(t *testing.T) {
	prevU, prevA := math.MinInt, math.MinInt
	for v := -32768; v <= 32767; v++ {
		s := int16(v)
		u := int(UlawDecode(UlawEncode(s)))
		a := int(AlawDecode(AlawEncode(s)))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d: ulaw %d<%d or alaw %d<%d", v, u, prevU, a, prevA)
		}
		prevU, prevA = u, a
		mag := math.Abs(float64(v))
		// Step sizes double per segment: relative error stays below ~1/32
		// above the first segments; absolute error is small near zero.
		tolU := math.Max(8, mag/15)
		tolA := math.Max(16, mag/15)
		if mag > 32124 { // µ-law clips at 32124, A-law at 32256
			tolU = mag - 32124 + 1024
			tolA = math.Max(tolA, mag-32256+1024)
		}
		if d := math.Abs(float64(u - v)); d > tolU {
			t.Fatalf("ulaw %d -> %d (error %v > %v)", v, u, d, tolU)
		}
		if d := math.Abs(float64(a - v)); d > tolA {
			t.Fatalf("alaw %d -> %d (error %v > %v)", v, a, d, tolA)
		}
	}
}

func TestG711TablesMatchFormulas(t *testing.T) {
	for v := -32768; v <= 32767; v++ {
		s := int16(v)
		if UlawEncode(s) != ulawEncodeFormula(s) || AlawEncode(s) != alawEncodeFormula(s) {
			t.Fatalf("table differs from formula at %d", v)
		}
	}
}

func TestG711Frames(t *testing.T) {
	pcm := []int16{0, 8, -8, 1000, -1000, 32767, -32768}
	enc := make([]byte, len(pcm))
	dec := make([]int16, len(pcm))
	if n := UlawEncodeFrame(enc, pcm); n != len(pcm) {
		t.Fatalf("encoded %d", n)
	}
	UlawDecodeFrame(dec, enc)
	for i := range pcm {
		if enc[i] != UlawEncode(pcm[i]) || dec[i] != UlawDecode(enc[i]) {
			t.Fatalf("ulaw frame differs at %d", i)
		}
	}
	AlawEncodeFrame(enc, pcm)
	AlawDecodeFrame(dec, enc)
	for i := range pcm {
		if enc[i] != AlawEncode(pcm[i]) || dec[i] != AlawDecode(enc[i]) {
			t.Fatalf("alaw frame differs at %d", i)
		}
	}
	if n := AlawEncodeFrame(enc[:3], pcm); n != 3 {
		t.Fatalf("short dst: %d", n)
	}
}

func BenchmarkUlawEncodeFrame(b *testing.B) {
	pcm := make([]int16, 160)
	out := make([]byte, 160)
	for i := range pcm {
		pcm[i] = int16(i * 200)
	}
	b.ReportAllocs()
	b.SetBytes(320)
	for b.Loop() {
		UlawEncodeFrame(out, pcm)
	}
}

func BenchmarkAlawDecodeFrame(b *testing.B) {
	in := make([]byte, 160)
	out := make([]int16, 160)
	for i := range in {
		in[i] = byte(i)
	}
	b.ReportAllocs()
	b.SetBytes(160)
	for b.Loop() {
		AlawDecodeFrame(out, in)
	}
}
