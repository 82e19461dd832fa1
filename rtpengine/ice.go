package rtpengine

import (
	"net/netip"
	"strings"
	"time"

	"github.com/pion/stun/v4"
)

// ICE-lite (RFC 8445 section 2.5): sbcd has host candidates only and never
// starts checks; it answers the peer's binding requests on the media
// socket itself, checking the short-term credentials it put in the SDP and
// the FINGERPRINT. A request carrying USE-CANDIDATE nominates its source:
// media to the peer goes there, and only packets from there are accepted.
// Every valid request also refreshes consent (RFC 7675).

// consentTimeout is how long media may flow to an ICE peer after its last
// valid binding request (RFC 7675 section 5.1: 30 s).
var consentTimeout = int64(30 * time.Second)

// hasConsent tells whether media may be sent to an endpoint's peer: always
// without ICE, with ICE only while the peer keeps its consent fresh.
func (ep *endpoint) hasConsent(now int64) bool {
	if ep.ice.Load() == nil {
		return true
	}
	last := ep.consent.Load()
	return last != 0 && now-last <= consentTimeout
}

// publishICE hands a monologue's credentials to its endpoints' readers.
func (m *monologue) publishICE() {
	for _, ep := range m.eps {
		if ep != nil {
			ep.ice.Store(m.ice)
		}
	}
}

// answerSTUN answers a binding request for this endpoint. It allocates,
// which is fine: checks arrive a few times a second, not per packet.
func (r *reader) answerSTUN(b []byte, src netip.AddrPort, now int64) bool {
	creds := r.ep.ice.Load()
	if creds == nil {
		return false
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		return false
	}
	if err := stun.Fingerprint.Check(m); err != nil {
		return false
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || !strings.HasPrefix(user.String(), creds.ufrag+":") {
		return false
	}
	integrity := stun.NewShortTermIntegrity(creds.pwd)
	if err := integrity.Check(m); err != nil {
		return false
	}
	res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: src.Addr().AsSlice(), Port: int(src.Port())}, integrity, stun.Fingerprint)
	if err != nil {
		return false
	}
	if _, err := r.sock.write(res.Raw, src); err != nil {
		return false
	}
	r.ep.consent.Store(now)
	if m.Contains(stun.AttrUseCandidate) && (!r.latch.set || r.latch.addr != src) {
		r.learn(src, r.latch.ssrc, now)
	}
	return true
}
