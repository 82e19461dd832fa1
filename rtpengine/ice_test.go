package rtpengine

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func sdpLine(sdpText []byte, key string) string {
	for _, l := range strings.Split(string(sdpText), "\r\n") {
		if v, ok := strings.CutPrefix(l, "a="+key+":"); ok {
			return v
		}
	}
	return ""
}

func bindingRequest(t *testing.T, user, pwd string, nominate bool) []byte {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(user)}
	if nominate {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrUseCandidate})
	}
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

func TestICELiteAnswersChecksAndNominates(t *testing.T) {
	e := newTestEngine(t, 42120, netip.Addr{}, nil)
	a, b, bCand := newPeer(t), newPeer(t), newPeer(t)
	ctx := context.Background()
	off, err := e.Offer(ctx, OfferRequest{CallID: "ice", FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", ICE: "force"}})
	if err != nil {
		t.Fatal(err)
	}
	ufrag, pwd := sdpLine(off, "ice-ufrag"), sdpLine(off, "ice-pwd")
	if ufrag == "" || pwd == "" || !strings.Contains(string(off), "a=ice-lite") {
		t.Fatalf("offer lacks ICE-lite credentials:\n%s", off)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "ice", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])

	// No media before the peer's first check: consent first (RFC 7675).
	a.send(rtpPacket(0, 0, 0, 0xabc, 160), sbcA)
	expectNothing(t, b)

	// A wrong password gets no answer.
	bCand.send(bindingRequest(t, ufrag+":peer", "wrong-password-123456", true), sbcB)
	if _, _, ok := bCand.recv(150 * time.Millisecond); ok {
		t.Fatal("a check with a wrong password was answered")
	}
	// A good check from another candidate of B is answered and nominates it.
	bCand.send(bindingRequest(t, ufrag+":peer", pwd, true), sbcB)
	raw, _, ok := bCand.recv(2 * time.Second)
	if !ok {
		t.Fatal("no binding response")
	}
	res := &stun.Message{Raw: raw}
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess {
		t.Fatalf("response %v: %v", res.Type, err)
	}
	if err := stun.NewShortTermIntegrity(pwd).Check(res); err != nil {
		t.Fatalf("response integrity: %v", err)
	}
	if err := stun.Fingerprint.Check(res); err != nil {
		t.Fatalf("response fingerprint: %v", err)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(res); err != nil || xor.Port != int(bCand.addr.Port()) {
		t.Fatalf("XOR-MAPPED-ADDRESS %v, want %v: %v", xor, bCand.addr, err)
	}
	// Media to B now goes to the nominated candidate, not the SDP address.
	a.send(rtpPacket(0, 1, 160, 0xabc, 160), sbcA)
	expectRTP(t, bCand, 1, sbcB)
	expectNothing(t, b)
}

func TestICEConsentExpires(t *testing.T) {
	old := consentTimeout
	consentTimeout = int64(300 * time.Millisecond)
	t.Cleanup(func() { consentTimeout = old })
	e := newTestEngine(t, 42160, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	ctx := context.Background()
	off, err := e.Offer(ctx, OfferRequest{CallID: "consent", FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", ICE: "force"}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "consent", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
	if err != nil {
		t.Fatal(err)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])
	b.send(bindingRequest(t, sdpLine(off, "ice-ufrag")+":peer", sdpLine(off, "ice-pwd"), true), sbcB)
	if _, _, ok := b.recv(2 * time.Second); !ok {
		t.Fatal("no binding response")
	}
	a.send(rtpPacket(0, 1, 160, 0xabc, 160), sbcA)
	expectRTP(t, b, 1, sbcB)
	time.Sleep(400 * time.Millisecond)
	a.send(rtpPacket(0, 2, 320, 0xabc, 160), sbcA)
	expectNothing(t, b)
}
