package sbc

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// Playback is what sbcd plays to a caller as early media: a call-progress
// tone of a country's table (ringback, busy, congestion, dial) or a WAV
// file (8 kHz mono).
type Playback struct {
	Country, Tone string
	WAV           string
	// Duration bounds the playback; 0 plays a tone until stopped and a
	// WAV to its end.
	Duration time.Duration
	// WebRTC: the caller is a browser (srtp: webrtc), answered as ICE-lite
	// with DTLS-SRTP, rtcp-mux and its BUNDLE mids, as its final answer
	// will be.
	WebRTC bool
}

// Player is implemented by a Media that plays tones and announcements to
// the caller (leg A) before the call is answered.
type Player interface {
	// Play answers the caller's offer with sbcd's own early media on the
	// realm's ports and plays p into it. It returns the SDP answer for a
	// provisional response and how long the playback lasts (0: until
	// StopPlay).
	Play(ctx context.Context, call string, offer []byte, realm string, p Playback) ([]byte, time.Duration, error)
	// StopPlay stops the call's playback, if any.
	StopPlay(call string)
}

// evPlayDone: an announcement played to its end.
type evPlayDone struct{ gen uint64 }

// country is the tone table of the caller's realm.
func (c *call) country() string {
	if a := c.legs[SideA]; a != nil {
		if r := c.pol.Realm(a.realm.name); r != nil {
			return r.Media.ToneCountry()
		}
	}
	return policy.DefaultToneCountry
}

// callerWebRTC tells whether the caller's leg carries a browser's media
// (srtp: webrtc, or a WebSocket leg that leaves the choice to the peer),
// also before the call has a media profile (a failure before routing).
func (c *call) callerWebRTC() bool {
	a := c.legs[SideA]
	if a == nil {
		return false
	}
	srtp := c.profile.SRTP[SideA]
	if srtp == "" {
		if r := c.pol.Realm(a.realm.name); r != nil {
			srtp = r.Media.SRTP
		}
	}
	return webrtcSRTP(srtp, a.transport) == "webrtc"
}

// ringback returns the SDP of local ringback for a 180 the callee sent
// without media, when the caller's realm asks for it (media.ringback:
// local); nil otherwise.
func (c *call) ringback(code int) []byte {
	a := c.legs[SideA]
	p, ok := c.b.media.(Player)
	if code != 180 || !ok || c.offerA == nil || a == nil || c.method != sip.INVITE {
		return nil
	}
	r := c.pol.Realm(a.realm.name)
	if r == nil || r.Media.Ringback != policy.RingbackLocal {
		return nil
	}
	st := c.dspState()
	if st.playing {
		return st.ringSDP
	}
	ctx, cancel := mediaCtx()
	sdp, _, err := p.Play(ctx, c.id, c.offerA, a.realm.name, Playback{Country: c.country(), Tone: "ringback", WebRTC: c.callerWebRTC()})
	cancel()
	if err != nil {
		c.log.Warn("local ringback not played", "err", err)
		return nil
	}
	st.playing, st.ringSDP = true, sdp
	c.log.Debug("local ringback", "country", c.country())
	return sdp
}

// stopPlay stops local ringback or an announcement.
func (c *call) stopPlay() {
	if c.dsp == nil || !c.dsp.playing {
		return
	}
	c.dsp.playing = false
	c.dsp.playGen++
	if p, ok := c.b.media.(Player); ok {
		p.StopPlay(c.id)
	}
}

// announce plays the announcement policy has for a failure response as
// early media (183 with SDP) and holds the response until it has played.
// It returns false when there is none to play.
func (c *call) announce(rej *Rejection) bool {
	a := c.legs[SideA]
	if c.method != sip.INVITE || c.offerA == nil || a == nil || a.inviteTx == nil || c.state != stateSetup {
		return false
	}
	st := c.dspState()
	if st.announced {
		return false
	}
	ann, ok := c.pol.Announcement(rej.Code)
	p, can := c.b.media.(Player)
	if !ok || !can {
		return false
	}
	st.announced = true
	ctx, cancel := mediaCtx()
	sdp, length, err := p.Play(ctx, c.id, c.offerA, a.realm.name,
		Playback{Country: c.country(), Tone: ann.Tone, WAV: ann.WAV, Duration: ann.Duration, WebRTC: c.callerWebRTC()})
	cancel()
	if err != nil || length <= 0 {
		c.log.Warn("announcement not played", "status", rej.Code, "err", err)
		return false
	}
	if err := a.inviteTx.Respond(a.respond(a.invite, 183, sdp, "application/sdp")); err != nil {
		c.log.Debug("183 to caller failed", "err", err)
		return false
	}
	st.playing, st.failAfter = true, rej
	st.playGen++
	gen := st.playGen
	time.AfterFunc(length, func() { c.post(evPlayDone{gen: gen}) })
	c.log.Debug("announcement", "status", rej.Code, "length", length)
	return true
}

// onPlayDone sends the failure response an announcement held back.
func (c *call) onPlayDone(e evPlayDone) {
	st := c.dsp
	if st == nil || st.failAfter == nil || e.gen != st.playGen || c.state != stateSetup {
		return
	}
	rej := st.failAfter
	st.failAfter = nil
	c.stopPlay()
	c.fail(rej)
}
