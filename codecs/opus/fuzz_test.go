//go:build cgo

package opus

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return a
// sentinel error or a duration that matches PacketSamples, never crash.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xfc, 0xff, 0xfe})
	f.Add([]byte{0x4b, 0x41, 0x01, 0x02})
	f.Add([]byte{0x03, 0x83, 0x10, 0x05, 1, 2, 3, 4, 5, 6, 7, 8})
	dec, err := NewDecoder(DecoderConfig{SampleRate: 48000, Channels: 2})
	if err != nil {
		f.Fatal(err)
	}
	pcm := make([]int16, 2*5760)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		want, perr := PacketSamples(pkt, 48000)
		n, err := dec.Decode(pkt, pcm)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) && !errors.Is(err, ErrCodec) && !errors.Is(err, ErrBufferTooSmall) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if perr != nil || n != want {
			t.Fatalf("Decode = %d samples but PacketSamples = %d, %v", n, want, perr)
		}
		if _, err := dec.DecodeFEC(pkt, pcm[:1920]); err != nil && !errors.Is(err, ErrInvalidPacket) && !errors.Is(err, ErrCodec) {
			t.Fatalf("DecodeFEC: unclassified error %v", err)
		}
	})
}
