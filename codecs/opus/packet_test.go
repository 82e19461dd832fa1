package opus

import "testing"

func TestPacketSamplesTable(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		rate int
		want int
	}{
		{"silk 10ms", []byte{0 << 3}, 48000, 480},
		{"silk 60ms at 8k", []byte{3 << 3}, 8000, 480},
		{"hybrid 20ms", []byte{13 << 3}, 16000, 320},
		{"celt 2.5ms", []byte{16 << 3}, 48000, 120},
		{"two equal frames", []byte{1<<3 | 1, 5, 5}, 48000, 1920},
		{"two frames vbr", []byte{1<<3 | 2, 1, 9, 8}, 48000, 1920},
		{"cbr 3 frames", []byte{1<<3 | 3, 3, 1, 2, 3}, 48000, 2880},
		{"vbr 2 frames padded", []byte{1<<3 | 3, 0xC2, 1, 1, 7, 8, 0}, 48000, 1920},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PacketSamples(tc.pkt, tc.rate)
			if err != nil || got != tc.want {
				t.Fatalf("PacketSamples = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// FuzzPacketSamples: the framing reader never panics and never reports
// more than 120 ms.
func FuzzPacketSamples(f *testing.F) {
	f.Add([]byte{0x0b, 0x83, 0x05, 1, 2, 3})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n, err := PacketSamples(pkt, 48000)
		if err == nil && (n <= 0 || n > maxPacketSamples48) {
			t.Fatalf("PacketSamples = %d", n)
		}
	})
}
