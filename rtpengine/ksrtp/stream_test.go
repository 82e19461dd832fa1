package ksrtp

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeriveRFC3711 checks the key derivation against RFC 3711
// appendix B.3.
func TestDeriveRFC3711(t *testing.T) {
	mk := unhex(t, "E1F97A0D3E018BE0D64FA32C06DE4139")
	ms := unhex(t, "0EC675AD498AFEEBB6960B3AABE6")
	for _, c := range []struct {
		label byte
		n     int
		want  string
	}{
		{labelEncryption, 16, "C61E7A93744F39EE10734AFE3FF7A087"},
		{labelSalt, 14, "30CBBC08863D8C85D49DB34A9AE1"},
		{labelAuth, 20, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"},
	} {
		got, err := derive(mk, ms, c.label, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, unhex(t, c.want)) {
			t.Errorf("label %d: %X, want %s", c.label, got, c.want)
		}
	}
}

// TestAESTables checks the S-box, the T-table and the key schedule by
// encrypting with them as the kernel program does, against crypto/aes.
func TestAESTables(t *testing.T) {
	if sbox[0] != 0x63 || sbox[1] != 0x7c || sbox[0x53] != 0xed || sbox[0xff] != 0x16 {
		t.Fatalf("S-box wrong: %x %x %x %x", sbox[0], sbox[1], sbox[0x53], sbox[0xff])
	}
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	in := unhex(t, "00112233445566778899aabbccddeeff")
	rk := expandKey(key)
	if rk[40] != 0x13111d7f || rk[43] != 0x4d2b30c5 {
		t.Fatalf("last round key %08x..%08x (FIPS-197 C.1: 13111d7f..4d2b30c5)", rk[40], rk[43])
	}
	te := te0()
	ror := func(x uint32, n uint) uint32 { return x>>n | x<<(32-n) }
	var s [4]uint32
	for i := range s {
		s[i] = uint32(in[4*i])<<24 | uint32(in[4*i+1])<<16 | uint32(in[4*i+2])<<8 | uint32(in[4*i+3])
		s[i] ^= rk[i]
	}
	for r := 1; r < 10; r++ {
		var n [4]uint32
		for i := range n {
			n[i] = te[s[i]>>24] ^ ror(te[s[(i+1)%4]>>16&0xff], 8) ^ ror(te[s[(i+2)%4]>>8&0xff], 16) ^ ror(te[s[(i+3)%4]&0xff], 24) ^ rk[4*r+i]
		}
		s = n
	}
	var out []byte
	for i := range s {
		w := uint32(sbox[s[i]>>24])<<24 | uint32(sbox[s[(i+1)%4]>>16&0xff])<<16 | uint32(sbox[s[(i+2)%4]>>8&0xff])<<8 | uint32(sbox[s[(i+3)%4]&0xff])
		w ^= rk[40+i]
		out = append(out, byte(w>>24), byte(w>>16), byte(w>>8), byte(w))
	}
	want := make([]byte, 16)
	blk, _ := aes.NewCipher(key)
	blk.Encrypt(want, in)
	if !bytes.Equal(out, want) {
		t.Fatalf("table AES %x, crypto/aes %x", out, want)
	}
}

func TestEncodeValidates(t *testing.T) {
	good := Stream{Mode: Unprotect, Peer: netip.MustParseAddrPort("192.0.2.1:4000"), Local: netip.MustParseAddrPort("192.0.2.2:30000"),
		MasterKey: make([]byte, 16), MasterSalt: make([]byte, 14), TagLen: 10, ROC: 7, SSRC: 1}
	var img [streamSize]byte
	if err := good.encode(img[:]); err != nil {
		t.Fatal(err)
	}
	if c := decodeCounters(func(off int) uint64 { return binary.LittleEndian.Uint64(img[off:]) }); !c.Fresh || c.ROC() != 7 {
		t.Fatalf("fresh slot reads %+v", c)
	}
	for name, mod := range map[string]func(*Stream){
		"ipv6":   func(s *Stream) { s.Peer = netip.MustParseAddrPort("[2001:db8::1]:4000") },
		"aes256": func(s *Stream) { s.MasterKey = make([]byte, 32) },
		"tag":    func(s *Stream) { s.TagLen = 16 },
		"mode":   func(s *Stream) { s.Mode = 9 },
		"nosalt": func(s *Stream) { s.MasterSalt = nil },
	} {
		s := good
		mod(&s)
		if err := s.encode(img[:]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
