package codecs

// G.711 companding (ITU-T G.711). Samples are 16-bit linear PCM; µ-law
// works on the top 14 bits and A-law on the top 13 bits, exactly as the
// segment formulas of the recommendation. Encoding and decoding are table
// lookups (64 KiB encode tables, 256-entry decode tables) built once at
// package initialisation from the formulas below.

const (
	ulawBias = 0x84 // 132: bias added before the µ-law segment search
	ulawClip = 32635
)

var (
	ulawDecodeTable = buildDecodeTable(ulawDecodeFormula)
	alawDecodeTable = buildDecodeTable(alawDecodeFormula)
	ulawEncodeTable = buildEncodeTable(ulawEncodeFormula)
	alawEncodeTable = buildEncodeTable(alawEncodeFormula)
)

func buildDecodeTable(f func(byte) int16) *[256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = f(byte(i))
	}
	return &t
}

func buildEncodeTable(f func(int16) byte) *[65536]byte {
	var t [65536]byte
	for i := range t {
		t[i] = f(int16(uint16(i)))
	}
	return &t
}

// ulawEncodeFormula encodes one sample with the G.711 µ-law segment rule.
func ulawEncodeFormula(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	seg := 0
	for m := v >> 7; m > 1; m >>= 1 {
		seg++
	}
	mant := (v >> (seg + 3)) & 0x0f
	return ^byte(sign | seg<<4 | mant)
}

// ulawDecodeFormula decodes one µ-law byte.
func ulawDecodeFormula(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + ulawBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// alawEncodeFormula encodes one sample with the G.711 A-law segment rule.
func alawEncodeFormula(s int16) byte {
	v := int(s) >> 3 // 13-bit
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := 0
	for lim := 0x1F; v > lim && seg < 8; lim = lim<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte(v>>1) & 0x0f
	} else {
		a |= byte(v>>seg) & 0x0f
	}
	return a ^ mask
}

// alawDecodeFormula decodes one A-law byte.
func alawDecodeFormula(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// UlawEncode returns the µ-law byte of a linear sample.
func UlawEncode(s int16) byte { return ulawEncodeTable[uint16(s)] }

// UlawDecode returns the linear sample of a µ-law byte.
func UlawDecode(u byte) int16 { return ulawDecodeTable[u] }

// AlawEncode returns the A-law byte of a linear sample.
func AlawEncode(s int16) byte { return alawEncodeTable[uint16(s)] }

// AlawDecode returns the linear sample of an A-law byte.
func AlawDecode(a byte) int16 { return alawDecodeTable[a] }

// UlawEncodeFrame encodes min(len(dst), len(src)) samples into dst and
// returns the number written.
func UlawEncodeFrame(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = ulawEncodeTable[uint16(src[i])]
	}
	return n
}

// UlawDecodeFrame decodes min(len(dst), len(src)) bytes into dst and
// returns the number written.
func UlawDecodeFrame(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = ulawDecodeTable[src[i]]
	}
	return n
}

// AlawEncodeFrame encodes min(len(dst), len(src)) samples into dst and
// returns the number written.
func AlawEncodeFrame(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = alawEncodeTable[uint16(src[i])]
	}
	return n
}

// AlawDecodeFrame decodes min(len(dst), len(src)) bytes into dst and
// returns the number written.
func AlawDecodeFrame(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		dst[i] = alawDecodeTable[src[i]]
	}
	return n
}
