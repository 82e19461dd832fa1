package sbc

import (
	"bytes"
	"fmt"
)

// srtpRequired reports whether policy requires SRTP from a leg's peer: the
// leg's realm says media.srtp_required, or its trunk says srtp_required.
func (c *call) srtpRequired(side Side) bool {
	l := c.legs[side]
	if l == nil {
		return false
	}
	if pr := c.pol.Realm(l.realm.name); pr != nil && pr.Media.SRTPRequired {
		return true
	}
	if l.trunk != nil && l.trunk.SRTPRequired {
		return true
	}
	if side == SideA && c.srcTrunk != nil && c.srcTrunk.SRTPRequired {
		return true
	}
	return false
}

// checkSRTP refuses (ErrMediaSDP, mapped to 488) an SDP from a leg whose
// policy requires SRTP when it is not secure.
func (c *call) checkSRTP(side Side, sdp []byte) error {
	if !c.srtpRequired(side) || secureSDP(sdp) {
		return nil
	}
	return fmt.Errorf("%w: SRTP is required from leg %s and its SDP offers plain RTP", ErrMediaSDP, side)
}

// secureSDP reports whether every active media line of an SDP is SRTP:
// SDES (RTP/SAVP[F] with a=crypto) or DTLS-SRTP (UDP/TLS/RTP/SAVP[F] with
// a=fingerprint). An SDP without active media lines is not secure.
func secureSDP(sdp []byte) bool {
	active, secure := 0, 0
	var proto []byte
	inMedia, disabled, crypto, fingerprint := false, false, false, false
	sessionFP := false
	flush := func() {
		if !inMedia || disabled {
			return
		}
		active++
		switch {
		case bytes.Equal(proto, []byte("RTP/SAVP")) || bytes.Equal(proto, []byte("RTP/SAVPF")):
			if crypto {
				secure++
			}
		case bytes.HasPrefix(proto, []byte("UDP/TLS/RTP/SAVP")):
			if fingerprint || sessionFP {
				secure++
			}
		}
	}
	for line := range bytes.Lines(sdp) {
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case bytes.HasPrefix(line, []byte("m=")):
			flush()
			f := bytes.Fields(line[2:])
			inMedia, crypto, fingerprint = true, false, false
			disabled = len(f) < 3 || bytes.Equal(f[1], []byte("0"))
			if len(f) >= 3 {
				proto = f[2]
			}
		case bytes.HasPrefix(line, []byte("a=crypto:")):
			crypto = true
		case bytes.HasPrefix(line, []byte("a=fingerprint:")):
			if inMedia {
				fingerprint = true
			} else {
				sessionFP = true
			}
		}
	}
	flush()
	return active > 0 && secure == active
}
