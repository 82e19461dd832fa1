package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/pion/srtp/v3"
)

// The -srtp sdes mode: tag A's side of every call speaks SDES-SRTP
// (RFC 4568, AES_CM_128_HMAC_SHA1_80) and tag B's plain RTP, so the relay
// decrypts one direction and encrypts the other: the SRTP<->RTP figure.

const sdesSuite = "AES_CM_128_HMAC_SHA1_80"

// keyLen and saltLen are the master key and salt of AES-CM-128.
const (
	keyLen  = 16
	saltLen = 14
)

var errCrypto = errors.New("bad a=crypto in ng reply")

// sdesKey is one side's master key and salt.
type sdesKey [keyLen + saltLen]byte

func newSDESKey() (sdesKey, error) {
	var k sdesKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("srtp key: %w", err)
	}
	return k, nil
}

// attr is the value of an a=crypto line offering k.
func (k sdesKey) attr() string {
	return "1 " + sdesSuite + " inline:" + base64.StdEncoding.EncodeToString(k[:])
}

// context returns an SRTP context for k; one context per direction and
// goroutine (a context keeps replay and rollover state).
func (k sdesKey) context() (*srtp.Context, error) {
	c, err := srtp.CreateContext(k[:keyLen], k[keyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	return c, nil
}

// directSDES returns the two contexts of one key: one protects what tag A
// sends, the other opens it at tag B (the -direct baseline).
func directSDES() (enc, dec *srtp.Context, err error) {
	k, err := newSDESKey()
	if err != nil {
		return nil, nil, err
	}
	if enc, err = k.context(); err != nil {
		return nil, nil, err
	}
	dec, err = k.context()
	return enc, dec, err
}

// cryptoKey returns the key of the first AES_CM_128_HMAC_SHA1_80 a=crypto
// line of sdp.
func cryptoKey(sdp string) (sdesKey, error) {
	var k sdesKey
	for _, l := range strings.Split(sdp, "\n") {
		v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "a=crypto:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 3 || f[1] != sdesSuite {
			continue
		}
		inline, ok := strings.CutPrefix(f[2], "inline:")
		if !ok {
			return k, fmt.Errorf("%w: %q", errCrypto, v)
		}
		inline, _, _ = strings.Cut(inline, "|")
		raw, err := base64.StdEncoding.DecodeString(inline)
		if err != nil || len(raw) != len(k) {
			return k, fmt.Errorf("%w: key of %q", errCrypto, v)
		}
		copy(k[:], raw)
		return k, nil
	}
	return k, fmt.Errorf("%w: no %s line", errCrypto, sdesSuite)
}

// hasCrypto reports whether sdp offers SRTP keys.
func hasCrypto(sdp string) bool { return strings.Contains(sdp, "\na=crypto:") }
