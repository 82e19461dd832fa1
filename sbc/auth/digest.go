package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Algorithm is a digest hash algorithm.
type Algorithm uint8

// The algorithms sbcd offers. SHA-256 is RFC 8760; MD5 is RFC 3261.
const (
	MD5 Algorithm = iota
	SHA256
)

// String is the algorithm's name in headers: MD5 or SHA-256.
func (a Algorithm) String() string {
	if a == SHA256 {
		return "SHA-256"
	}
	return "MD5"
}

// ParseAlgorithm reads an algorithm name (case-insensitive). The -sess
// variants are not supported.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch {
	case strings.EqualFold(s, "MD5"):
		return MD5, nil
	case strings.EqualFold(s, "SHA-256"):
		return SHA256, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrAlgorithm, s)
}

// Size is the length of the algorithm's digest in bytes.
func (a Algorithm) Size() int {
	if a == SHA256 {
		return sha256.Size
	}
	return md5.Size
}

func (a Algorithm) newHash() hash.Hash {
	if a == SHA256 {
		return sha256.New()
	}
	return md5.New()
}

// HA1 returns hex(H(user:realm:password)), the form credentials are stored in.
func HA1(a Algorithm, user, realm, password string) string {
	h := a.newHash()
	h.Write([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(h.Sum(nil))
}

// Response computes the qop=auth digest response (hex) for a request:
// H(HA1:nonce:nc:cnonce:qop:H(method:uri)). With qop empty it is the RFC
// 2069 form H(HA1:nonce:H(method:uri)). ha1 is hex.
func Response(a Algorithm, ha1, method, uri, nonce, nc, cnonce, qop string) string {
	var buf [2 * sha256.Size]byte
	return string(response(a, buf[:0], ha1, method, uri, nonce, nc, cnonce, qop))
}

// response appends the hex response to dst without allocating beyond the
// hash state.
func response(a Algorithm, dst []byte, ha1, method, uri, nonce, nc, cnonce, qop string) []byte {
	var sum [sha256.Size]byte
	var ha2 [2 * sha256.Size]byte
	h := a.newHash()
	h.Write([]byte(method))
	h.Write([]byte{':'})
	h.Write([]byte(uri))
	n := hex.Encode(ha2[:], h.Sum(sum[:0]))
	h.Reset()
	h.Write([]byte(ha1))
	h.Write([]byte{':'})
	h.Write([]byte(nonce))
	h.Write([]byte{':'})
	if qop != "" {
		h.Write([]byte(nc))
		h.Write([]byte{':'})
		h.Write([]byte(cnonce))
		h.Write([]byte{':'})
		h.Write([]byte(qop))
		h.Write([]byte{':'})
	}
	h.Write(ha2[:n])
	s := h.Sum(sum[:0])
	return hex.AppendEncode(dst, s)
}
