package g722

import "testing"

func BenchmarkEncode20ms(b *testing.B) {
	pcm := readPCM(b, "input.raw")
	code := make([]byte, BytesPerFrame20ms)
	e := NewEncoder()
	frames := len(pcm) / 320
	b.ReportAllocs()
	b.SetBytes(640)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i % frames) * 320
		if _, err := e.Encode(code, pcm[off:off+320]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode20ms(b *testing.B) {
	code := readBytes(b, "input.g722")
	pcm := make([]int16, 320)
	d := NewDecoder()
	frames := len(code) / BytesPerFrame20ms
	b.ReportAllocs()
	b.SetBytes(BytesPerFrame20ms)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i % frames) * BytesPerFrame20ms
		if _, err := d.Decode(pcm, code[off:off+BytesPerFrame20ms]); err != nil {
			b.Fatal(err)
		}
	}
}
