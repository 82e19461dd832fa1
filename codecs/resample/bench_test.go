package resample

import (
	"fmt"
	"testing"
)

// BenchmarkProcess20ms resamples one 20 ms frame.
func BenchmarkProcess20ms(b *testing.B) {
	for _, p := range [][2]int{{8000, 48000}, {48000, 8000}, {16000, 48000}, {48000, 16000}, {8000, 16000}, {16000, 8000}} {
		b.Run(fmt.Sprintf("%dto%d", p[0], p[1]), func(b *testing.B) {
			r, err := New(p[0], p[1])
			if err != nil {
				b.Fatal(err)
			}
			in := sweep(p[0], p[0]/50, 0, 0.02, 300, 3000, 10000)
			out := make([]int16, p[1]/50)
			b.ReportAllocs()
			b.SetBytes(int64(2 * len(in)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Process(out, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
