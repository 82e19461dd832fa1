package sbc

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// Methods a digit can arrive by (Digit.Method).
const (
	DigitRFC4733 = "rfc4733"
	DigitInband  = "inband"
	DigitInfo    = "info"
)

// Digit is one DTMF digit a leg's peer sent.
type Digit struct {
	// Key is '0'-'9', '*', '#' or 'A'-'D'.
	Key      byte
	Duration time.Duration
	// Side is the leg whose peer sent the digit.
	Side Side
	// Method is how it came: rfc4733, inband or info.
	Method string
}

// DigitPlayer is implemented by a Media that can send digits into a leg's
// media (as RFC 4733 events or tones, per the leg's DTMF mode): what
// digits received in SIP INFO become on a leg that does not take INFO.
type DigitPlayer interface {
	PlayDigit(ctx context.Context, call string, to Side, key byte, d time.Duration) error
}

// DigitObserver is implemented by an Observer that wants every digit
// (metrics, events). It is called on the call's actor and must not block.
type DigitObserver interface {
	Digit(call *CallRecord, d Digit)
}

// evDigit is a digit the media plane detected.
type evDigit struct{ d Digit }

// callDSP is a call's DTMF and tone state (dtmf.go, tones.go).
type callDSP struct {
	digits []byte
	// playing: sbcd plays ringback or an announcement to the caller.
	playing bool
	playGen uint64
	// ringSDP is the answer of local ringback, repeated in later 180s.
	ringSDP []byte
	// failAfter is the failure response held back while an announcement plays.
	failAfter *Rejection
	announced bool
}

func (c *call) dspState() *callDSP {
	if c.dsp == nil {
		c.dsp = &callDSP{}
	}
	return c.dsp
}

// maxCDRDigits bounds the digits kept per call.
const maxCDRDigits = 256

// Digit reports a digit the media plane detected in call (by its media
// identifier) from leg from; the B2BUA records it and, when the other
// leg takes DTMF in SIP INFO, sends it there.
func (b *B2BUA) Digit(mediaID string, d Digit) {
	if c := b.calls.byMediaID(mediaID); c != nil {
		c.post(evDigit{d: d})
	}
}

// dtmfModes fills the profile's DTMF modes from the legs' realms and trunk.
func dtmfModes(pol *policy.Set, p *MediaProfile, trunk [2]*policy.Trunk) {
	for s := SideA; s <= SideB; s++ {
		mode := policy.DTMFRFC4733
		if r := pol.Realm(p.Realm[s]); r != nil {
			mode = r.Media.DTMFMode()
		}
		if t := trunk[s]; t != nil && t.DTMF != "" {
			mode = t.DTMF
		}
		p.DTMF[s] = mode
	}
	p.DTMFSuppress = pol.Config().Media.DTMF.Suppress()
}

// onDigit records a digit and carries it to the other leg when that leg
// takes SIP INFO (the media plane carries it otherwise).
func (c *call) onDigit(d Digit) {
	st := c.dspState()
	if len(st.digits) < maxCDRDigits {
		st.digits = append(st.digits, d.Key)
	}
	c.log.Debug("digit", "key", string(d.Key), "leg", d.Side.String(), "method", d.Method, "duration", d.Duration)
	if o, ok := c.b.obs.(DigitObserver); ok {
		o.Digit(c.record(MediaStats{}), d)
	}
	if d.Method == DigitInfo || c.profile.DTMF[d.Side.Other()] != policy.DTMFInfo {
		return
	}
	y := c.legs[d.Side.Other()]
	if y == nil || !y.confirmed {
		return
	}
	body := dtmfRelayBody(d.Key, d.Duration)
	c.track(y, y.request(sip.INFO, body, "application/dtmf-relay"), &pending{method: sip.INFO})
}

// dtmfRelayBody is an application/dtmf-relay body.
func dtmfRelayBody(key byte, d time.Duration) []byte {
	if d <= 0 {
		d = 100 * time.Millisecond
	}
	return fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", key, d.Milliseconds())
}

// parseDTMFInfo reads the digit of an INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160") or application/dtmf ("5"). ok is false when
// the body is not a DTMF body.
func parseDTMFInfo(ctype string, body []byte) (key byte, d time.Duration, ok bool, err error) {
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ctype)), ";")
	ct = strings.TrimSpace(ct)
	switch ct {
	case "application/dtmf-relay":
		var signal string
		for _, line := range strings.Split(string(body), "\n") {
			k, v, found := strings.Cut(strings.TrimSpace(line), "=")
			if !found {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				signal = strings.TrimSpace(v)
			case "duration":
				ms, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || ms < 0 || ms > 60000 {
					return 0, 0, true, fmt.Errorf("duration %q", v)
				}
				d = time.Duration(ms) * time.Millisecond
			}
		}
		key, err = dtmfKey(signal)
		return key, d, true, err
	case "application/dtmf":
		key, err = dtmfKey(strings.TrimSpace(string(body)))
		return key, 0, true, err
	}
	return 0, 0, false, nil
}

// dtmfKey maps a Signal value onto a key: 0-9 * # A-D, or the event
// codes 10 (*) and 11 (#) some devices send.
func dtmfKey(s string) (byte, error) {
	switch s {
	case "10":
		return '*', nil
	case "11":
		return '#', nil
	}
	if len(s) == 1 {
		k := s[0]
		if k >= 'a' && k <= 'd' {
			k -= 'a' - 'A'
		}
		if k >= '0' && k <= '9' || k == '*' || k == '#' || k >= 'A' && k <= 'D' {
			return k, nil
		}
	}
	return 0, fmt.Errorf("signal %q is not a DTMF key", s)
}

// dtmfInfo handles an INFO carrying a digit from a leg whose DTMF mode is
// info: the digit is recorded; towards a leg that takes digits in media
// sbcd answers the INFO and plays the digit. It returns false when the
// INFO is to be relayed as is (the other leg takes INFO too).
func (c *call) dtmfInfo(e evRequest) bool {
	req := e.req
	if req.Method != sip.INFO || c.profile.DTMF[e.side] != policy.DTMFInfo {
		return false
	}
	ctype := ""
	if ct := req.ContentType(); ct != nil {
		ctype = ct.Value()
	}
	key, d, ok, err := parseDTMFInfo(ctype, req.Body())
	if !ok {
		return false
	}
	x := c.legs[e.side]
	if err != nil {
		res := x.respond(req, 400, nil, "")
		res.Reason = "Bad DTMF body: " + err.Error()
		_ = e.tx.Respond(res)
		return true
	}
	c.onDigit(Digit{Key: key, Duration: d, Side: e.side, Method: DigitInfo})
	player, can := c.b.media.(DigitPlayer)
	if !can || c.profile.DTMF[e.side.Other()] == "" || c.profile.DTMF[e.side.Other()] == policy.DTMFInfo {
		return false // relayed as it came
	}
	ctx, cancel := mediaCtx()
	err = player.PlayDigit(ctx, c.id, e.side.Other(), key, d)
	cancel()
	if err != nil {
		// The media plane cannot carry it (e.g. a remote media node):
		// relay the INFO as it came, the far side may take it.
		c.log.Warn("digit not played; INFO relayed", "key", string(key), "err", err)
		return false
	}
	_ = e.tx.Respond(x.respond(req, 200, nil, ""))
	return true
}

// digitsOf returns the digits recorded for a call (for its CallRecord).
func (c *call) digitsOf() string {
	if c.dsp == nil {
		return ""
	}
	return string(c.dsp.digits)
}
