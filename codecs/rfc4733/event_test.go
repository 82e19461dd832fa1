package rfc4733

import (
	"bytes"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want Event
		err  error
	}{
		{"digit 5 start", []byte{5, 10, 0x00, 0xA0}, Event{Code: 5, Volume: 10, Duration: 160}, nil},
		{"end bit", []byte{11, 0x80 | 7, 0x03, 0x20}, Event{Code: 11, End: true, Volume: 7, Duration: 800}, nil},
		{"reserved bit ignored", []byte{1, 0x40 | 0x3F, 0xFF, 0xFF}, Event{Code: 1, Volume: 63, Duration: 0xFFFF}, nil},
		{"flash", []byte{16, 0, 0, 0}, Event{Code: Flash}, nil},
		{"trailing bytes ignored", []byte{2, 0, 0, 1, 9, 9}, Event{Code: 2, Duration: 1}, nil},
		{"short", []byte{1, 2, 3}, Event{}, ErrShortPayload},
		{"empty", nil, Event{}, ErrShortPayload},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, e := range []Event{
		{Code: 0, Volume: 0, Duration: 0},
		{Code: 9, End: true, Volume: 63, Duration: 0xFFFF},
		{Code: 15, Volume: 13, Duration: 1234},
		{Code: 200, End: true, Volume: 1, Duration: 1},
	} {
		t.Run(e.String(), func(t *testing.T) {
			b, err := e.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != PayloadSize || b[1]&0x40 != 0 {
				t.Fatalf("encoding % x", b)
			}
			got, err := Parse(b)
			if err != nil || got != e {
				t.Fatalf("round trip %v, %v; want %v", got, err, e)
			}
		})
	}
	if err := (Event{Volume: 64}).Put(make([]byte, 4)); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("volume 64: %v", err)
	}
	if err := (Event{}).Put(make([]byte, 3)); !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("short buffer: %v", err)
	}
}

func TestParseAll(t *testing.T) {
	in := []byte{1, 10, 0, 160, 2, 0x80 | 10, 1, 64}
	got, err := ParseAll(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{Code: 1, Volume: 10, Duration: 160}, {Code: 2, End: true, Volume: 10, Duration: 320}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3, 4, 5}} {
		if _, err := ParseAll(nil, bad); err == nil {
			t.Fatalf("ParseAll(% x) accepted", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	all := "0123456789*#ABCD"
	for i := 0; i < len(all); i++ {
		c, err := Code(all[i])
		if err != nil || c != uint8(i) {
			t.Fatalf("Code(%q) = %d, %v; want %d", all[i], c, err, i)
		}
		k, err := Key(uint8(i))
		if err != nil || k != all[i] {
			t.Fatalf("Key(%d) = %q, %v", i, k, err)
		}
	}
	if c, err := Code('b'); err != nil || c != 13 {
		t.Fatalf("lower case b: %d %v", c, err)
	}
	if c, err := Code('!'); err != nil || c != Flash {
		t.Fatalf("flash: %d %v", c, err)
	}
	if k, err := Key(Flash); err != nil || k != '!' {
		t.Fatalf("Key(flash) %q %v", k, err)
	}
	for _, bad := range []byte{'E', 'x', ' ', 0} {
		if _, err := Code(bad); !errors.Is(err, ErrBadEvent) {
			t.Fatalf("Code(%q) err %v", bad, err)
		}
	}
	if _, err := Key(17); !errors.Is(err, ErrBadEvent) {
		t.Fatalf("Key(17) err %v", err)
	}
}

func TestRedundantRoundTrip(t *testing.T) {
	blocks := []Block{
		{PayloadType: 101, TimestampOffset: 480, Data: []byte{1, 0x80 | 10, 0, 160}},
		{PayloadType: 101, TimestampOffset: 160, Data: []byte{2, 10, 0, 160}},
		{PayloadType: 101, Data: []byte{2, 10, 1, 64}},
	}
	b, err := AppendRedundant(nil, blocks)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4+4+1+12 {
		t.Fatalf("encoded %d bytes", len(b))
	}
	got, err := ParseRedundant(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blocks) {
		t.Fatalf("%d blocks", len(got))
	}
	for i := range got {
		if got[i].PayloadType != blocks[i].PayloadType || got[i].TimestampOffset != blocks[i].TimestampOffset ||
			!bytes.Equal(got[i].Data, blocks[i].Data) {
			t.Fatalf("block %d: %+v want %+v", i, got[i], blocks[i])
		}
	}
}

func TestParseRedundantErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"header cut", []byte{0x80 | 101, 0}},
		{"no primary header", []byte{0x80 | 101, 0, 0, 0}},
		{"block past end", []byte{0x80 | 101, 0, 0, 8, 101, 1, 2, 3}},
		{"length high bits past end", []byte{0x80 | 101, 0, 3, 0xFF, 101}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseRedundant(nil, tt.in); !errors.Is(err, ErrRedundancy) {
				t.Fatalf("err %v", err)
			}
		})
	}
	if _, err := AppendRedundant(nil, nil); !errors.Is(err, ErrRedundancy) {
		t.Fatalf("no blocks: %v", err)
	}
	if _, err := AppendRedundant(nil, []Block{{Data: make([]byte, 1024)}, {}}); !errors.Is(err, ErrRedundancy) {
		t.Fatalf("long block: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x80 | 7, 3, 32, 1, 2, 3, 4})
	f.Add([]byte{0x80 | 101, 1, 0x40, 4, 101, 1, 10, 0, 160, 1, 0x8a, 1, 64})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := Parse(b); err == nil {
			e.Volume &= MaxVolume
			out, err := e.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			back, _ := Parse(out)
			if back != e {
				t.Fatalf("round trip %v -> %v", e, back)
			}
		}
		if evs, err := ParseAll(nil, b); err == nil && len(evs) != len(b)/4 {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
		blocks, err := ParseRedundant(nil, b)
		if err != nil {
			return
		}
		total := 0
		for _, bl := range blocks {
			total += len(bl.Data)
		}
		// Header bytes: 4 per redundant block and 1 for the primary.
		if total+4*(len(blocks)-1)+1 != len(b) {
			t.Fatalf("blocks cover %d data bytes of %d", total, len(b))
		}
		again, err := AppendRedundant(nil, blocks)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encode % x, %v; want % x", again, err, b)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	p := []byte{5, 0x80 | 10, 3, 32}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	var sink Event
	for b.Loop() {
		e, _ := Parse(p)
		sink = e
	}
	_ = sink
}
