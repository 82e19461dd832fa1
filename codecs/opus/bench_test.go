//go:build cgo

package opus

import (
	"fmt"
	"testing"
)

// BenchmarkEncode measures one 20 ms mono frame of speech-like input.
func BenchmarkEncode(b *testing.B) {
	for _, rate := range []int{8000, 16000, 48000} {
		for _, c := range []int{ComplexityFastest, 5, 10} {
			name := fmt.Sprintf("rate=%d/complexity=%d", rate, max(c, 0))
			b.Run(name, func(b *testing.B) {
				enc, err := NewEncoder(EncoderConfig{SampleRate: rate, Complexity: c, Bitrate: 32000})
				if err != nil {
					b.Fatal(err)
				}
				frame := enc.FrameSamples()
				in := speechLike(rate, 50*frame)
				pkt := make([]byte, MaxPacketBytes)
				b.ReportAllocs()
				b.SetBytes(int64(2 * frame))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					off := (i % 50) * frame
					if _, err := enc.Encode(in[off:off+frame], pkt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecode measures one 20 ms mono frame (encoded at complexity 5,
// 32 kbit/s) decoded at the same rate.
func BenchmarkDecode(b *testing.B) {
	for _, rate := range []int{8000, 16000, 48000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			enc, err := NewEncoder(EncoderConfig{SampleRate: rate, Bitrate: 32000})
			if err != nil {
				b.Fatal(err)
			}
			dec, err := NewDecoder(DecoderConfig{SampleRate: rate})
			if err != nil {
				b.Fatal(err)
			}
			frame := enc.FrameSamples()
			in := speechLike(rate, 50*frame)
			var pkts [][]byte
			buf := make([]byte, MaxPacketBytes)
			for off := 0; off < len(in); off += frame {
				n, err := enc.Encode(in[off:off+frame], buf)
				if err != nil {
					b.Fatal(err)
				}
				pkts = append(pkts, append([]byte(nil), buf[:n]...))
			}
			pcm := make([]int16, frame)
			b.ReportAllocs()
			b.SetBytes(int64(2 * frame))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := dec.Decode(pkts[i%len(pkts)], pcm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
