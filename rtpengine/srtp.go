package rtpengine

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// SDES-SRTP (RFC 4568) is terminated per leg: every leg that speaks SRTP
// gets keys of ours, and each direction is decrypted on the way in and
// encrypted for the other leg on the way out, so any mix works (SRTP <->
// RTP, SRTP <-> SRTP with independent keys).

// suite is a crypto suite sbcd speaks.
type suite struct {
	name    string
	profile srtp.ProtectionProfile
}

// suites in sbcd's order of preference when it answers an offer.
var suites = []suite{
	{"AEAD_AES_128_GCM", srtp.ProtectionProfileAeadAes128Gcm},
	{"AEAD_AES_256_GCM", srtp.ProtectionProfileAeadAes256Gcm},
	{"AES_CM_128_HMAC_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80},
	{"AES_CM_128_HMAC_SHA1_32", srtp.ProtectionProfileAes128CmHmacSha1_32},
}

// offerSuites are what sbcd offers to a leg, one a=crypto line each (the
// widely supported one first).
var offerSuites = []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM", "AES_CM_128_HMAC_SHA1_32"}

func suiteByName(name string) (suite, bool) {
	for _, s := range suites {
		if s.name == name {
			return s, true
		}
	}
	return suite{}, false
}

// cryptoAttr is one a=crypto line: tag, suite and master key||salt.
type cryptoAttr struct {
	tag   int
	suite suite
	key   []byte
}

// keyLen is the length of key||salt for a suite.
func keyLen(s suite) int {
	k, _ := s.profile.KeyLen()
	n, _ := s.profile.SaltLen()
	return k + n
}

// parseCrypto reads the value of an a=crypto attribute:
// "1 AES_CM_128_HMAC_SHA1_80 inline:<base64>[|lifetime][|mki:len]".
// Suites sbcd does not speak and key parameters it cannot honour (MKI,
// several keys) are errors the caller skips over.
func parseCrypto(v string) (cryptoAttr, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return cryptoAttr{}, fmt.Errorf("%w: a=crypto %q", ErrBadSDP, v)
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return cryptoAttr{}, fmt.Errorf("%w: a=crypto tag %q", ErrBadSDP, f[0])
	}
	s, ok := suiteByName(f[1])
	if !ok {
		return cryptoAttr{}, fmt.Errorf("%w: crypto suite %q not supported", ErrBadSDP, f[1])
	}
	params := strings.Split(f[2], ";")
	if len(params) != 1 {
		return cryptoAttr{}, fmt.Errorf("%w: several SRTP keys in one line", ErrBadSDP)
	}
	inline, ok := strings.CutPrefix(params[0], "inline:")
	if !ok {
		return cryptoAttr{}, fmt.Errorf("%w: key method of %q is not inline", ErrBadSDP, f[2])
	}
	parts := strings.Split(inline, "|")
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			return cryptoAttr{}, fmt.Errorf("%w: SRTP MKI not supported", ErrBadSDP)
		}
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) != keyLen(s) {
		return cryptoAttr{}, fmt.Errorf("%w: bad %s key", ErrBadSDP, s.name)
	}
	return cryptoAttr{tag: tag, suite: s, key: key}, nil
}

// equal tells whether two lines carry the same tag, suite and key.
func (c cryptoAttr) equal(o cryptoAttr) bool {
	return c.tag == o.tag && c.suite.name == o.suite.name && bytes.Equal(c.key, o.key)
}

// sdesKeys are the SDES keys of an endpoint facing an offerer: the line of
// the offer its rx context decrypts with, and ours, answered, that its tx
// context encrypts with.
type sdesKeys struct {
	offered, ours cryptoAttr
}

// newCrypto makes a line of ours with a fresh random key.
func newCrypto(tag int, s suite) cryptoAttr {
	key := make([]byte, keyLen(s))
	_, _ = rand.Read(key)
	return cryptoAttr{tag: tag, suite: s, key: key}
}

func (c cryptoAttr) String() string {
	return strconv.Itoa(c.tag) + " " + c.suite.name + " inline:" + base64.StdEncoding.EncodeToString(c.key)
}

// cipher protects or unprotects one direction of one endpoint. RTP and
// RTCP have their own contexts; each is used by one reader at a time, and
// its mutex (per stream, never shared between streams) only matters while
// rtcp-mux changes hands between readers.
type cipher struct {
	// attr is the suite and master key||salt the contexts were made
	// with (for the in-kernel SRTP of offloaded streams).
	attr   cryptoAttr
	rtpMu  sync.Mutex
	rtp    *srtp.Context
	rtcpMu sync.Mutex
	rtcp   *srtp.Context
	// rtpHdr and rtcpHdr are scratch headers, guarded by the mutexes.
	rtpHdr  rtp.Header
	rtcpHdr rtcp.Header
}

// newCipher builds the contexts for a key; inbound contexts get replay
// protection.
func newCipher(c cryptoAttr, inbound bool) (*cipher, error) {
	k, _ := c.suite.profile.KeyLen()
	var opts []srtp.ContextOption
	if inbound {
		opts = []srtp.ContextOption{srtp.SRTPReplayProtection(128), srtp.SRTCPReplayProtection(128)}
	}
	r, err := srtp.CreateContext(c.key[:k], c.key[k:], c.suite.profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	rc, err := srtp.CreateContext(c.key[:k], c.key[k:], c.suite.profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("srtcp context: %w", err)
	}
	return &cipher{attr: c, rtp: r, rtcp: rc}, nil
}

// isRTCP tells RTCP from RTP by the packet type byte (RFC 5761).
func isRTCP(b []byte) bool { return len(b) > 1 && b[1] >= 192 && b[1] <= 223 }

// roc is the RTP context's rollover counter for ssrc.
func (c *cipher) roc(ssrc uint32) uint32 {
	c.rtpMu.Lock()
	defer c.rtpMu.Unlock()
	r, _ := c.rtp.ROC(ssrc)
	return r
}

// setROC sets the RTP context's rollover counter for ssrc (a stream back
// from the kernel).
func (c *cipher) setROC(ssrc, roc uint32) {
	c.rtpMu.Lock()
	c.rtp.SetROC(ssrc, roc)
	c.rtpMu.Unlock()
}

// decrypt unprotects a packet into dst; ok is false for packets that fail
// authentication or replay checks, or are malformed.
func (c *cipher) decrypt(dst, b []byte) ([]byte, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return nil, false
	}
	if isRTCP(b) {
		c.rtcpMu.Lock()
		out, err := c.rtcp.DecryptRTCP(dst, b, &c.rtcpHdr)
		c.rtcpMu.Unlock()
		return out, err == nil
	}
	c.rtpMu.Lock()
	out, err := c.rtp.DecryptRTP(dst, b, &c.rtpHdr)
	c.rtpMu.Unlock()
	return out, err == nil
}

// encrypt protects a packet into dst.
func (c *cipher) encrypt(dst, b []byte) ([]byte, bool) {
	if isRTCP(b) {
		c.rtcpMu.Lock()
		out, err := c.rtcp.EncryptRTCP(dst, b, &c.rtcpHdr)
		c.rtcpMu.Unlock()
		return out, err == nil
	}
	c.rtpMu.Lock()
	out, err := c.rtp.EncryptRTP(dst, b, &c.rtpHdr)
	c.rtpMu.Unlock()
	return out, err == nil
}

// cryptoBufs are a reader's buffers for SRTP, allocated the first time the
// reader meets a secure leg.
type cryptoBufs struct {
	plain [readBufSize]byte
	out   [readBufSize + 64]byte
}

// isSecureProto tells whether an m= protocol is SDES-SRTP (not DTLS).
func isSecureProto(protos []string) bool {
	p := strings.Join(protos, "/")
	return (p == "RTP/SAVP" || p == "RTP/SAVPF")
}

// cryptoLines reads the usable a=crypto lines of an m= line.
func cryptoLines(md *sdp.MediaDescription) []cryptoAttr {
	var out []cryptoAttr
	for _, a := range md.Attributes {
		if a.Key != "crypto" {
			continue
		}
		if c, err := parseCrypto(a.Value); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// preferred picks the offered line whose suite sbcd prefers.
func preferred(offered []cryptoAttr) (cryptoAttr, bool) {
	for _, s := range suites {
		for _, c := range offered {
			if c.suite.name == s.name {
				return c, true
			}
		}
	}
	return cryptoAttr{}, false
}
