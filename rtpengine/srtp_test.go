package rtpengine

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/srtp/v3"
)

func TestParseCrypto(t *testing.T) {
	key30 := base64.StdEncoding.EncodeToString(make([]byte, 30))
	key28 := base64.StdEncoding.EncodeToString(make([]byte, 28))
	cases := []struct {
		in    string
		suite string
		err   bool
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30, "AES_CM_128_HMAC_SHA1_80", false},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^20", "AES_CM_128_HMAC_SHA1_32", false},
		{"3 AEAD_AES_128_GCM inline:" + key28, "AEAD_AES_128_GCM", false},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key28, "", true},               // key too short
		{"1 F8_128_HMAC_SHA1_80 inline:" + key30, "", true},                   // suite not spoken
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4", "", true}, // MKI
		{"1 AES_CM_128_HMAC_SHA1_80 uri:" + key30, "", true},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key30, "", true},
		{"1 AES_CM_128_HMAC_SHA1_80", "", true},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:!!!", "", true},
	}
	for _, tc := range cases {
		c, err := parseCrypto(tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, ErrBadSDP) {
				t.Errorf("%q: err %v, want ErrBadSDP", tc.in, err)
			}
			continue
		}
		if err != nil || c.suite.name != tc.suite {
			t.Errorf("%q: %v %v", tc.in, c.suite.name, err)
			continue
		}
		if back, err := parseCrypto(c.String()); err != nil || !bytes.Equal(back.key, c.key) {
			t.Errorf("%q does not round-trip: %v", c.String(), err)
		}
	}
}

// cryptoOf returns the a=crypto lines of an SDP by tag.
func cryptoOf(t *testing.T, sdpText []byte) map[int]cryptoAttr {
	t.Helper()
	out := map[int]cryptoAttr{}
	for _, l := range strings.Split(string(sdpText), "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=crypto:"); ok {
			c, err := parseCrypto(v)
			if err != nil {
				t.Fatalf("our own a=crypto does not parse: %v", err)
			}
			out[c.tag] = c
		}
	}
	return out
}

func savpSDP(port uint16, c cryptoAttr) []byte {
	s := strings.Replace(string(peerSDP(port, "sendrecv", "a=crypto:"+c.String())), "RTP/AVP", "RTP/SAVP", 1)
	return []byte(s)
}

func srtpCtx(t *testing.T, c cryptoAttr, inbound bool) *srtp.Context {
	t.Helper()
	k, _ := c.suite.profile.KeyLen()
	var opts []srtp.ContextOption
	if inbound {
		opts = append(opts, srtp.SRTPReplayProtection(64))
	}
	ctx, err := srtp.CreateContext(c.key[:k], c.key[k:], c.suite.profile, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// A plain RTP leg and an SDES-SRTP leg: sbcd encrypts towards the secure
// peer with the key it offered and decrypts what that peer sends with the
// key of its answer; forged and replayed packets never reach the plain side.
func TestSDESToPlainRelay(t *testing.T) {
	e := newTestEngine(t, 42000, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	ctx := context.Background()
	off, err := e.Offer(ctx, OfferRequest{CallID: "sdes", FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/SAVP"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(off, []byte("RTP/SAVP")) {
		t.Fatalf("offer to the secure side is not RTP/SAVP:\n%s", off)
	}
	ours := cryptoOf(t, off)
	if len(ours) < 2 {
		t.Fatalf("offer carries %d a=crypto lines", len(ours))
	}
	bKey := newCrypto(1, ours[1].suite)
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "sdes", FromTag: "a", ToTag: "b", SDP: savpSDP(b.addr.Port(), bKey)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ans, []byte("RTP/AVP")) || bytes.Contains(ans, []byte("crypto")) {
		t.Fatalf("answer to the plain side:\n%s", ans)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])

	// Plain from A arrives at B as SRTP under the key sbcd offered.
	plain := rtpPacket(0, 100, 8000, 0x1111, 160)
	a.send(plain, sbcA)
	got, _, ok := b.recv(2 * time.Second)
	if !ok {
		t.Fatal("nothing reached the secure side")
	}
	if bytes.Equal(got, plain) {
		t.Fatal("the secure side got plain RTP")
	}
	dec, err := srtpCtx(t, ours[1], true).DecryptRTP(nil, got, nil)
	if err != nil || !bytes.Equal(dec, plain) {
		t.Fatalf("SRTP from sbcd does not decrypt with the offered key: %v", err)
	}

	// SRTP from B arrives at A as plain RTP.
	bOut := srtpCtx(t, bKey, false)
	fromB := rtpPacket(0, 500, 16000, 0x2222, 160)
	enc, err := bOut.EncryptRTP(nil, fromB, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.send(enc, sbcB)
	got, _, ok = a.recv(2 * time.Second)
	if !ok || !bytes.Equal(got, fromB) {
		t.Fatalf("plain side got %x, want the decrypted packet", got)
	}

	// A replay and a forgery are dropped.
	b.send(enc, sbcB)
	forged := bytes.Clone(enc)
	forged[len(forged)-1] ^= 0xff
	forged[3]++ // another sequence number, so only the tag is wrong
	b.send(forged, sbcB)
	expectNothing(t, a)
	st, err := e.Query("sdes")
	if err != nil {
		t.Fatal(err)
	}
	var dropped uint64
	for _, l := range st.Legs {
		if l.Tag == "b" {
			dropped = l.Streams[0].Dropped
		}
	}
	if dropped < 2 {
		t.Errorf("dropped on the secure leg = %d, want the replay and the forgery", dropped)
	}
}

// Both legs SDES: each gets its own keys, never the other side's.
func TestSDESBothSidesIndependentKeys(t *testing.T) {
	e := newTestEngine(t, 42040, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	ctx := context.Background()
	s, _ := suiteByName("AES_CM_128_HMAC_SHA1_80")
	aKey, bKey := newCrypto(7, s), newCrypto(1, s)
	off, err := e.Offer(ctx, OfferRequest{CallID: "both", FromTag: "a", SDP: savpSDP(a.addr.Port(), aKey),
		Flags: Flags{FromInterface: "access", ToInterface: "core"}})
	if err != nil {
		t.Fatal(err)
	}
	ours := cryptoOf(t, off)
	for _, c := range ours {
		if bytes.Equal(c.key, aKey.key) {
			t.Fatal("the caller's key crossed to the other leg")
		}
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "both", FromTag: "a", ToTag: "b", SDP: savpSDP(b.addr.Port(), bKey)})
	if err != nil {
		t.Fatal(err)
	}
	toA := cryptoOf(t, ans)
	if len(toA) != 1 || toA[7].suite.name != s.name || bytes.Equal(toA[7].key, bKey.key) {
		t.Fatalf("answer to the caller must carry one fresh line with the caller's tag: %+v", toA)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])

	pkt := rtpPacket(0, 9, 900, 0x3333, 160)
	enc, _ := srtpCtx(t, aKey, false).EncryptRTP(nil, pkt, nil)
	a.send(enc, sbcA)
	got, _, ok := b.recv(2 * time.Second)
	if !ok {
		t.Fatal("nothing reached B")
	}
	if dec, err := srtpCtx(t, ours[1], true).DecryptRTP(nil, got, nil); err != nil || !bytes.Equal(dec, pkt) {
		t.Fatalf("B cannot decrypt with sbcd's key: %v", err)
	}
	back := rtpPacket(0, 77, 7700, 0x4444, 160)
	enc, _ = srtpCtx(t, bKey, false).EncryptRTP(nil, back, nil)
	b.send(enc, sbcB)
	got, _, ok = a.recv(2 * time.Second)
	if !ok {
		t.Fatal("nothing reached A")
	}
	if dec, err := srtpCtx(t, toA[7], true).DecryptRTP(nil, got, nil); err != nil || !bytes.Equal(dec, back) {
		t.Fatalf("A cannot decrypt with sbcd's key: %v", err)
	}
}

func TestSDESAnswerWithoutMatchingCryptoIsRefused(t *testing.T) {
	e := newTestEngine(t, 42080, netip.Addr{}, nil)
	ctx := context.Background()
	_, err := e.Offer(ctx, OfferRequest{CallID: "x", FromTag: "a", SDP: peerSDP(4000, "sendrecv"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", TransportProtocol: "RTP/SAVP"}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := suiteByName("AES_CM_128_HMAC_SHA1_80")
	_, err = e.Answer(ctx, AnswerRequest{CallID: "x", FromTag: "a", ToTag: "b", SDP: savpSDP(4002, newCrypto(9, s))})
	if !errors.Is(err, ErrBadSDP) {
		t.Fatalf("err %v, want ErrBadSDP", err)
	}
}

// BenchmarkSRTPProtectUnprotect is the per-packet crypto of an SRTP <-> RTP
// relay: encrypt towards a secure leg and decrypt from it, 172-byte packets.
func BenchmarkSRTPProtectUnprotect(b *testing.B) {
	for _, name := range []string{"AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"} {
		b.Run(name, func(b *testing.B) {
			s, _ := suiteByName(name)
			key := newCrypto(1, s)
			out, _ := newCipher(key, false)
			in, _ := newCipher(key, true)
			pkt := rtpPacket(0, 1, 160, 0x55, 160)
			var cb cryptoBufs
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for i := range b.N {
				seq := uint16(i)
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				enc, ok := out.encrypt(cb.out[:0], pkt)
				if !ok {
					b.Fatal("encrypt failed")
				}
				if _, ok := in.decrypt(cb.plain[:0], enc); !ok {
					b.Fatal("decrypt failed")
				}
			}
		})
	}
}

func FuzzParseCrypto(f *testing.F) {
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 30)) + "|2^20")
	f.Add("3 AEAD_AES_128_GCM inline:" + base64.StdEncoding.EncodeToString(make([]byte, 28)))
	f.Add("1 AES_CM_128_HMAC_SHA1_32 inline:AAAA|1:4")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseCrypto(v)
		if err != nil {
			return
		}
		back, err := parseCrypto(c.String())
		if err != nil || back.tag != c.tag || !bytes.Equal(back.key, c.key) {
			t.Fatalf("%q parsed but does not round-trip: %v", v, err)
		}
		if _, err := newCipher(c, true); err != nil {
			t.Fatalf("%q parsed but gives no cipher: %v", v, err)
		}
	})
}
