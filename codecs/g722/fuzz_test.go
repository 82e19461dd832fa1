package g722

import "testing"

// FuzzDecode: every byte string is valid G.722; decoding must produce two
// samples per byte, never fail or crash, and be deterministic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x00, 0xff, 0x3f, 0xc0})
	f.Add(make([]byte, 160))
	f.Fuzz(func(t *testing.T, code []byte) {
		a := make([]int16, 2*len(code))
		b := make([]int16, 2*len(code))
		n, err := NewDecoder().Decode(a, code)
		if err != nil || n != 2*len(code) {
			t.Fatalf("Decode = %d, %v; want %d", n, err, 2*len(code))
		}
		d := NewDecoder()
		half := len(code) / 2
		if _, err := d.Decode(b, code[:half]); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(b[2*half:], code[half:]); err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("sample %d: %d in one call, %d in two", i, a[i], b[i])
			}
		}
	})
}
