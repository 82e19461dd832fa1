package main

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSDESKeyRoundTrip(t *testing.T) {
	k, err := newSDESKey()
	if err != nil {
		t.Fatal(err)
	}
	sdp := string(audioSDP(netip.MustParseAddrPort("127.0.0.1:4000"), k.attr()))
	if !strings.Contains(sdp, "m=audio 4000 RTP/SAVP 0\r\n") || !hasCrypto(sdp) {
		t.Fatalf("offer:\n%s", sdp)
	}
	got, err := cryptoKey(sdp)
	if err != nil || got != k {
		t.Fatalf("cryptoKey = %x, %v; want %x", got, err, k)
	}
	if hasCrypto(string(audioSDP(netip.MustParseAddrPort("127.0.0.1:4000"), ""))) {
		t.Error("plain SDP has a=crypto")
	}

	// what one context protects, a context from the same key opens
	enc, err := k.context()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := k.context()
	if err != nil {
		t.Fatal(err)
	}
	pkt := newPacket(3, 160, 0, 0x1234)
	stamp(pkt, 5, 800, 42)
	ct, err := enc.EncryptRTP(nil, pkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != len(pkt)+10 {
		t.Errorf("SRTP packet %d bytes, want %d (80-bit tag)", len(ct), len(pkt)+10)
	}
	pt, err := dec.DecryptRTP(nil, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, q, ns, err := probe(pt); err != nil || s != 3 || q != 5 || ns != 42 {
		t.Errorf("probe after round trip = %d %d %d %v", s, q, ns, err)
	}
	ct[len(ct)-1] ^= 1
	if _, err := dec.DecryptRTP(nil, ct, nil); err == nil {
		t.Error("a forged tag was accepted")
	}
}

func TestCryptoKeyErrors(t *testing.T) {
	for name, sdp := range map[string]string{
		"none":        "v=0\r\nm=audio 1 RTP/SAVP 0\r\n",
		"other suite": "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\n",
		"bad base64":  "x\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!\r\n",
		"short key":   "x\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n",
		"no inline":   "x\na=crypto:1 AES_CM_128_HMAC_SHA1_80 uri:x\r\n",
	} {
		if _, err := cryptoKey(sdp); !errors.Is(err, errCrypto) {
			t.Errorf("%s: %v, want errCrypto", name, err)
		}
	}
}

// TestRelaySDESThroughSbcd runs the tool against a real sbcd in both modes:
// every packet crosses, and in sdes mode the plain side reads plain RTP
// (a packet still encrypted would not parse as a probe of its stream).
func TestRelaySDESThroughSbcd(t *testing.T) {
	for _, mode := range []string{"none", "sdes"} {
		t.Run(mode, func(t *testing.T) {
			o := options{calls: 10, pps: 50, duration: 2 * time.Second, payload: 160, srtp: mode,
				maxLoss: 1, receivers: 1, portMin: 46000, portMax: 46999, grace: 500 * time.Millisecond,
				relayMode: "auto"}
			if err := run(o); err != nil {
				t.Fatal(err)
			}
		})
	}
}
