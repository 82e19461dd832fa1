package ksrtp

import (
	"crypto/aes"
	"crypto/sha1"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors of this package.
var (
	ErrUnsupported = errors.New("ksrtp: stream not supported in the kernel")
	ErrFull        = errors.New("ksrtp: no free kernel slot")
	ErrPortBusy    = errors.New("ksrtp: port already has a kernel slot")
	ErrLoad        = errors.New("ksrtp: kernel program not loaded")
)

// Mode is what the kernel does to a stream's packets.
type Mode uint32

const (
	// Unprotect authenticates and decrypts SRTP arriving from the peer.
	Unprotect Mode = 1
	// Protect encrypts RTP arriving from the peer (for the other leg).
	Protect Mode = 2
)

// Stream is one direction of one offloaded stream: packets from Peer to
// Local carrying SSRC.
type Stream struct {
	Mode        Mode
	Peer, Local netip.AddrPort
	SSRC        uint32
	// MasterKey (16 bytes) and MasterSalt (14 bytes) of the SRTP crypto
	// context (AES_CM_128 suites only).
	MasterKey, MasterSalt []byte
	// TagLen is 10 (HMAC_SHA1_80) or 4 (HMAC_SHA1_32).
	TagLen int
	// ROC is the rollover counter the user-space context had reached
	// and LastSeq the highest sequence number it handled: the kernel
	// estimates each packet's index from there (RFC 3711 appendix A), so
	// a wrap right at the hand-over is followed. Without LastSeq
	// (SeqKnown false) the first packet's sequence number is taken with
	// ROC as it is.
	ROC      uint32
	LastSeq  uint16
	SeqKnown bool
	// Out, when its To is set, is where the kernel sends each datagram
	// after the transform. Without it the datagram passes on with its
	// addresses as they came.
	Out Forward
}

// Forward is where a slot's datagrams go: from our port on the other leg
// (From) to that leg's latched peer (To), delivered on this host
// (Ifindex 0) or sent out of device Ifindex towards NextHop (To's
// address itself, or the gateway of its route), with IP TOS byte TOS
// (DSCP << 2) and TTL 64, as sbcd's own sockets send.
type Forward struct {
	From, To netip.AddrPort
	Ifindex  int
	NextHop  netip.Addr
	TOS      uint8
}

// Counters are a slot's counters. Index is the highest packet index the
// kernel handled (ROC << 16 | sequence number); Fresh is true while no
// packet has been handled (Index then holds only the ROC given).
type Counters struct {
	Packets, Bytes            uint64
	AuthFail, Replayed, Other uint64
	Index                     uint64
	Fresh                     bool
}

// RunStats are the kernel's statistics of the program: every packet it
// looked at and the time it took (both stay 0 unless the
// kernel.bpf_stats_enabled sysctl is 1), and the instructions the
// verifier processed when it was loaded.
type RunStats struct {
	Runs, RunNs   uint64
	VerifiedInsns uint32
}

// ROC is the rollover counter of c.Index.
func (c Counters) ROC() uint32 { return uint32(c.Index >> 16) }

// Layout of struct stream in bpf/srtp.c (checked by _Static_assert there).
const (
	streamSize  = 848
	maxStreams  = 8192
	window      = 64
	offActive   = 0
	offMode     = 4
	offSaddr    = 8
	offDaddr    = 12
	offSport    = 16
	offDport    = 18
	offSSRC     = 20
	offTagLen   = 24
	offRK       = 28
	offSalt     = offRK + 176
	offIpad     = offSalt + 16
	offOpad     = offIpad + 20
	offIndex    = offOpad + 20 + 4
	offWindow   = offIndex + 8
	offPackets  = offWindow + 8*window
	offBytes    = offPackets + 8
	offAuthFail = offBytes + 8
	offReplayed = offAuthFail + 8
	offOther    = offReplayed + 8
	offOutSaddr = offOther + 8
	offOutDaddr = offOutSaddr + 4
	offOutSport = offOutDaddr + 4
	offOutDport = offOutSport + 2
	offOutIf    = offOutDport + 2
	offOutNH    = offOutIf + 4
	offOutFwd   = offOutNH + 4
	offOutTOS   = offOutFwd + 1
	indexFresh  = uint64(1) << 63
)

// validate checks what the kernel program supports.
func (s Stream) validate() error {
	switch {
	case s.Mode != Unprotect && s.Mode != Protect:
		return fmt.Errorf("%w: mode %d", ErrUnsupported, s.Mode)
	case !s.Peer.Addr().Unmap().Is4() || !s.Local.Addr().Unmap().Is4():
		return fmt.Errorf("%w: not IPv4 (%s -> %s)", ErrUnsupported, s.Peer, s.Local)
	case len(s.MasterKey) != 16 || len(s.MasterSalt) != 14:
		return fmt.Errorf("%w: key %d and salt %d bytes (AES_CM_128 needs 16 and 14)", ErrUnsupported, len(s.MasterKey), len(s.MasterSalt))
	case s.TagLen != 10 && s.TagLen != 4:
		return fmt.Errorf("%w: tag length %d", ErrUnsupported, s.TagLen)
	case s.Out.To.IsValid() && (!s.Out.From.Addr().Unmap().Is4() || !s.Out.To.Addr().Unmap().Is4()):
		return fmt.Errorf("%w: forwarding not IPv4 (%s -> %s)", ErrUnsupported, s.Out.From, s.Out.To)
	case s.Out.To.IsValid() && s.Out.Ifindex != 0 && !s.Out.NextHop.Unmap().Is4():
		return fmt.Errorf("%w: next hop %s on device %d", ErrUnsupported, s.Out.NextHop, s.Out.Ifindex)
	case s.Out.Ifindex < 0:
		return fmt.Errorf("%w: device %d", ErrUnsupported, s.Out.Ifindex)
	}
	return nil
}

// encode writes s into a slot image (streamSize bytes, the kernel's
// little-endian layout), inactive; the caller activates it last.
func (s Stream) encode(b []byte) error {
	if err := s.validate(); err != nil {
		return err
	}
	clear(b[:streamSize])
	le := binary.LittleEndian
	le.PutUint32(b[offMode:], uint32(s.Mode))
	p4, l4 := s.Peer.Addr().Unmap().As4(), s.Local.Addr().Unmap().As4()
	copy(b[offSaddr:], p4[:])
	copy(b[offDaddr:], l4[:])
	binary.BigEndian.PutUint16(b[offSport:], s.Peer.Port())
	binary.BigEndian.PutUint16(b[offDport:], s.Local.Port())
	if o := s.Out; o.To.IsValid() {
		f4, t4 := o.From.Addr().Unmap().As4(), o.To.Addr().Unmap().As4()
		copy(b[offOutSaddr:], f4[:])
		copy(b[offOutDaddr:], t4[:])
		binary.BigEndian.PutUint16(b[offOutSport:], o.From.Port())
		binary.BigEndian.PutUint16(b[offOutDport:], o.To.Port())
		if o.Ifindex != 0 {
			le.PutUint32(b[offOutIf:], uint32(o.Ifindex))
			nh := o.NextHop.Unmap().As4()
			copy(b[offOutNH:], nh[:])
		}
		b[offOutFwd], b[offOutTOS] = 1, o.TOS
	}
	le.PutUint32(b[offSSRC:], s.SSRC)
	le.PutUint32(b[offTagLen:], uint32(s.TagLen))
	ek, err := derive(s.MasterKey, s.MasterSalt, labelEncryption, 16)
	if err != nil {
		return err
	}
	ak, _ := derive(s.MasterKey, s.MasterSalt, labelAuth, 20)
	salt, _ := derive(s.MasterKey, s.MasterSalt, labelSalt, 14)
	for i, w := range expandKey(ek) {
		le.PutUint32(b[offRK+4*i:], w)
	}
	var s16 [16]byte
	copy(s16[:], salt)
	for i := 0; i < 4; i++ {
		le.PutUint32(b[offSalt+4*i:], binary.BigEndian.Uint32(s16[4*i:]))
	}
	ip, op := padState(ak, 0x36), padState(ak, 0x5c)
	for i := 0; i < 5; i++ {
		le.PutUint32(b[offIpad+4*i:], ip[i])
		le.PutUint32(b[offOpad+4*i:], op[i])
	}
	idx := uint64(s.ROC)<<16 | uint64(s.LastSeq)
	if !s.SeqKnown {
		idx = indexFresh | uint64(s.ROC)<<16
	}
	le.PutUint64(b[offIndex:], idx)
	return nil
}

// decodeCounters reads a slot's counters with ld, which loads the 64-bit
// word at an offset of the slot (atomically from the kernel's memory, or
// from an image).
func decodeCounters(ld func(off int) uint64) Counters {
	idx := ld(offIndex)
	return Counters{
		Packets: ld(offPackets), Bytes: ld(offBytes), AuthFail: ld(offAuthFail), Replayed: ld(offReplayed), Other: ld(offOther),
		Index: idx &^ indexFresh, Fresh: idx&indexFresh != 0,
	}
}

// SRTP key derivation labels (RFC 3711 section 4.3.1).
const (
	labelEncryption = 0
	labelAuth       = 1
	labelSalt       = 2
)

// derive is the AES-CM key derivation of RFC 3711 with a key derivation
// rate of 0: n bytes of the keystream of IV (salt XOR label) * 2^16.
func derive(masterKey, masterSalt []byte, label byte, n int) ([]byte, error) {
	blk, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	var iv [16]byte
	copy(iv[:], masterSalt)
	iv[7] ^= label
	out := make([]byte, 0, n+16)
	var ks [16]byte
	for i := 0; len(out) < n; i++ {
		binary.BigEndian.PutUint16(iv[14:], uint16(i))
		blk.Encrypt(ks[:], iv[:])
		out = append(out, ks[:]...)
	}
	return out[:n], nil
}

// padState is the SHA-1 chaining state after one block of key XOR pad:
// the HMAC inner (0x36) or outer (0x5c) starting point.
func padState(key []byte, pad byte) [5]uint32 {
	var blk [64]byte
	copy(blk[:], key)
	for i := range blk {
		blk[i] ^= pad
	}
	h := sha1.New()
	h.Write(blk[:])
	st, _ := h.(encoding.BinaryMarshaler).MarshalBinary() // "sha\x01", h0..h4, ...
	var r [5]uint32
	for i := range r {
		r[i] = binary.BigEndian.Uint32(st[4+4*i:])
	}
	return r
}

// sbox is the AES S-box, computed.
var sbox = func() (s [256]byte) {
	rotl := func(x byte, n uint) byte { return x<<n | x>>(8-n) }
	// Walk the multiplicative group with generator 3 (p) and its
	// inverse (q), applying the affine map to the inverse.
	p, q := byte(1), byte(1)
	for {
		hi := p & 0x80
		p ^= p << 1
		if hi != 0 {
			p ^= 0x1b
		}
		q ^= q << 1
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		s[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
}()

func xtime(x byte) byte {
	if x&0x80 != 0 {
		return x<<1 ^ 0x1b
	}
	return x << 1
}

// te0 is the first AES encryption T-table (the others are its rotations).
func te0() (t [256]uint32) {
	for x, s := range sbox {
		t[x] = uint32(xtime(s))<<24 | uint32(s)<<16 | uint32(s)<<8 | uint32(xtime(s)^s)
	}
	return t
}

// expandKey is the AES-128 key schedule (44 words).
func expandKey(key []byte) (w [44]uint32) {
	for i := 0; i < 4; i++ {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := byte(1)
	for i := 4; i < 44; i++ {
		t := w[i-1]
		if i%4 == 0 {
			t = t<<8 | t>>24
			t = uint32(sbox[t>>24])<<24 | uint32(sbox[t>>16&0xff])<<16 | uint32(sbox[t>>8&0xff])<<8 | uint32(sbox[t&0xff])
			t ^= uint32(rcon) << 24
			rcon = xtime(rcon)
		}
		w[i] = w[i-4] ^ t
	}
	return w
}
