package rtpengine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// secureOpts are the security attributes of ours that go into one SDP.
type secureOpts struct {
	crypto [][]cryptoAttr // a=crypto lines per m= line
	setup  []string       // a=setup value per m= line ("" = no DTLS)
	protos [][]string     // forced m= protocol per m= line (answers)
}

// sdpAttr reads an attribute of an m= line, falling back to the session level.
func sdpAttr(sd *sdp.SessionDescription, md *sdp.MediaDescription, key string) string {
	if v, ok := md.Attribute(key); ok {
		return v
	}
	if v, ok := sd.Attribute(key); ok {
		return v
	}
	return ""
}

// fingerprintValue turns "sha-256 AB:CD" into "AB:CD" (sbcd checks SHA-256 only).
func fingerprintValue(v string) string {
	alg, fp, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(alg, "sha-256") {
		return ""
	}
	return strings.TrimSpace(fp)
}

// offerSecurity records the offerer's security per stream and prepares our
// own for the other side: fresh a=crypto lines where it receives SDES-SRTP,
// a DTLS session (waiting for the answer to pick roles; an early ClientHello
// is kept) where it receives DTLS-SRTP.
func (e *Engine) offerSecurity(sd *sdp.SessionDescription, a, b *monologue, f *Flags) secureOpts {
	n := len(sd.MediaDescriptions)
	o := secureOpts{crypto: make([][]cryptoAttr, n), setup: make([]string, n)}
	for i, md := range sd.MediaDescriptions {
		if i >= len(a.eps) || i >= len(b.eps) || a.eps[i] == nil || b.eps[i] == nil {
			continue
		}
		ea, eb := a.eps[i], b.eps[i]
		ea.recordPeerSecurity(sd, md)

		target := md.MediaName.Protos
		if f.TransportProtocol != "" && slices.Contains(target, "RTP") {
			target = strings.Split(f.TransportProtocol, "/")
		}
		eb.ourCrypto = nil
		eb.secure.Store(isSecureProto(target) || isDTLSProto(target))
		switch {
		case isSecureProto(target):
			for j, name := range offerSuites {
				s, _ := suiteByName(name)
				eb.ourCrypto = append(eb.ourCrypto, newCrypto(j+1, s))
			}
			o.crypto[i] = eb.ourCrypto
		case isDTLSProto(target):
			if eb.dtls.Load() == nil {
				eb.dtls.Store(newDTLSSession(eb))
			}
			o.setup[i] = "actpass"
		default:
			if s := eb.dtls.Swap(nil); s != nil {
				_ = s.Close()
			}
		}
	}
	return o
}

// recordPeerSecurity records the security an offer from ep's peer asks
// for on its m= line md: protocol, a=crypto lines, fingerprint and setup.
// offererSide keys the endpoint from them when it is answered.
func (ep *endpoint) recordPeerSecurity(sd *sdp.SessionDescription, md *sdp.MediaDescription) {
	ep.peerProtos = slices.Clone(md.MediaName.Protos)
	ep.peerCrypto = cryptoLines(md)
	ep.peerFP = fingerprintValue(sdpAttr(sd, md, "fingerprint"))
	ep.peerSetup = sdpAttr(sd, md, "setup")
	ep.secure.Store(isSecureProto(ep.peerProtos) || isDTLSProto(ep.peerProtos))
}

// answerSecurity keys both sides once the answer is in and returns what
// the answer to the offerer carries (it mirrors the offer's protocol).
func (e *Engine) answerSecurity(sd *sdp.SessionDescription, a, b *monologue) (secureOpts, error) {
	n := len(sd.MediaDescriptions)
	o := secureOpts{crypto: make([][]cryptoAttr, n), setup: make([]string, n), protos: make([][]string, n)}
	for i, md := range sd.MediaDescriptions {
		if i >= len(a.eps) || i >= len(b.eps) || a.eps[i] == nil || b.eps[i] == nil {
			continue
		}
		ea, eb := a.eps[i], b.eps[i]
		if err := e.answererSide(sd, md, eb); err != nil {
			return o, fmt.Errorf("%w: m= line %d: %w", ErrBadSDP, i+1, err)
		}
		if ea.peerProtos != nil {
			o.protos[i] = ea.peerProtos
		}
		var err error
		o.crypto[i], o.setup[i], err = e.offererSide(ea)
		if err != nil {
			return o, fmt.Errorf("%w: m= line %d: %w", ErrBadSDP, i+1, err)
		}
	}
	return o, nil
}

// answererSide keys the endpoint facing the answerer from its answer.
func (e *Engine) answererSide(sd *sdp.SessionDescription, md *sdp.MediaDescription, eb *endpoint) error {
	if s := eb.dtls.Load(); s != nil {
		if !isDTLSProto(md.MediaName.Protos) {
			// The answerer declined DTLS: plain RTP on this side.
			eb.dtls.Store(nil)
			_ = s.Close()
			eb.secure.Store(false)
			return nil
		}
		fp := fingerprintValue(sdpAttr(sd, md, "fingerprint"))
		if fp == "" {
			return fmt.Errorf("DTLS answer without a sha-256 a=fingerprint")
		}
		if s.started.Load() && !strings.EqualFold(fp, s.peerFP) {
			// A new certificate: rekey with a fresh association.
			_ = s.Close()
			s = newDTLSSession(eb)
			eb.dtls.Store(s)
		}
		s.peerFP = fp
		e.startDTLS(s, strings.EqualFold(sdpAttr(sd, md, "setup"), "passive"))
		return nil
	}
	var rx, tx *cipher
	if len(eb.ourCrypto) > 0 {
		for _, pc := range cryptoLines(md) {
			for _, oc := range eb.ourCrypto {
				if oc.tag != pc.tag || oc.suite.name != pc.suite.name {
					continue
				}
				var err error
				if rx, err = newCipher(pc, true); err == nil {
					tx, err = newCipher(oc, false)
				}
				if err != nil {
					return err
				}
			}
			if tx != nil {
				break
			}
		}
		if tx == nil && isSecureProto(md.MediaName.Protos) {
			return fmt.Errorf("the answer has no a=crypto matching the offer")
		}
	}
	eb.rx.Store(rx)
	eb.tx.Store(tx)
	eb.secure.Store(tx != nil)
	return nil
}

// offererSide keys the endpoint facing the offerer and returns the a=crypto
// line or a=setup value our answer carries. Answering the same offer again
// keeps the keys: the DTLS association goes on, and an SDES offer whose
// chosen a=crypto line is unchanged is answered with the same key of ours
// and keeps its SRTP contexts. Early media that sbcd plays before the far
// end answers (announce.go) and the relayed media after it thus share one
// outgoing context, with its rollover and replay state.
func (e *Engine) offererSide(ea *endpoint) ([]cryptoAttr, string, error) {
	if !isSecureProto(ea.peerProtos) {
		ea.sdes = nil
	}
	switch {
	case isDTLSProto(ea.peerProtos):
		if ea.peerFP == "" {
			return nil, "", fmt.Errorf("DTLS offer without a sha-256 a=fingerprint")
		}
		s := ea.dtls.Load()
		if s == nil || (s.started.Load() && !strings.EqualFold(s.peerFP, ea.peerFP)) {
			if s != nil {
				_ = s.Close()
			}
			s = newDTLSSession(ea)
			ea.dtls.Store(s)
		}
		s.peerFP = ea.peerFP
		client := strings.EqualFold(ea.peerSetup, "passive")
		e.startDTLS(s, client)
		if client {
			return nil, "active", nil
		}
		return nil, "passive", nil
	case isSecureProto(ea.peerProtos):
		chosen, ok := preferred(ea.peerCrypto)
		if !ok {
			return nil, "", fmt.Errorf("the offer has no supported crypto suite")
		}
		if k := ea.sdes; k != nil && k.offered.equal(chosen) && ea.tx.Load() != nil && ea.rx.Load() != nil {
			return []cryptoAttr{k.ours}, "", nil
		}
		ours := newCrypto(chosen.tag, chosen.suite)
		rx, err := newCipher(chosen, true)
		if err != nil {
			return nil, "", err
		}
		tx, err := newCipher(ours, false)
		if err != nil {
			return nil, "", err
		}
		ea.rx.Store(rx)
		ea.tx.Store(tx)
		ea.sdes = &sdesKeys{offered: chosen, ours: ours}
		return []cryptoAttr{ours}, "", nil
	}
	ea.rx.Store(nil)
	ea.tx.Store(nil)
	return nil, "", nil
}
