package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/openborder/openborder/codecs/wav"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

// DTMF interworking, tones and announcements run where the call's media
// is relayed in-process; calls on remote media nodes get none of them.

var (
	_ sbc.DigitPlayer = mediaAdapter{}
	_ sbc.Player      = mediaAdapter{}
)

var errRemoteMedia = errors.New("not available for calls on remote media nodes")

// dtmfFlags maps the profile's DTMF modes onto the engine's flags for an
// offer or answer made by leg from.
func dtmfFlags(p sbc.MediaProfile, from sbc.Side) *rtpengine.DTMFFlags {
	if p.DTMF[from] == "" || p.DTMF[from.Other()] == "" {
		return nil
	}
	return &rtpengine.DTMFFlags{From: p.DTMF[from], To: p.DTMF[from.Other()], Suppress: p.DTMFSuppress}
}

// engine returns the in-process engine that relays the calls, if any.
func (m mediaAdapter) engine() (*rtpengine.Engine, error) {
	if e, ok := m.e.(*rtpengine.Engine); ok {
		return e, nil
	}
	return nil, errRemoteMedia
}

func (m mediaAdapter) PlayDigit(ctx context.Context, call string, to sbc.Side, key byte, d time.Duration) error {
	e, err := m.engine()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.PlayDigit(call, legTag[to], key, d)
}

func (m mediaAdapter) Play(ctx context.Context, call string, offer []byte, realm string, p sbc.Playback) ([]byte, time.Duration, error) {
	e, err := m.engine()
	if err != nil {
		return nil, 0, err
	}
	r := rtpengine.PlayRequest{CallID: call, FromTag: legTag[sbc.SideA], SDP: offer, Interface: realm,
		Country: p.Country, Tone: p.Tone, Duration: p.Duration}
	if p.WAV != "" {
		if r.PCM, err = readWAV(p.WAV); err != nil {
			return nil, 0, err
		}
	}
	var bundle rtpengine.Bundle
	if p.WebRTC {
		// A browser is answered as in Answer: ICE-lite, rtcp-mux and the
		// mids (and BUNDLE group) of its offer, without its own
		// browser-only attributes.
		if bundle, err = rtpengine.OfferBundle(offer); err != nil {
			return nil, 0, classify(err)
		}
		if r.SDP, err = rtpengine.PlainSDP(offer); err != nil {
			return nil, 0, classify(err)
		}
		r.ICE = true
	}
	out, length, err := e.Play(ctx, r)
	if err == nil && p.WebRTC {
		out, err = bundle.Apply(out)
	}
	return out, length, classify(err)
}

func (m mediaAdapter) StopPlay(call string) {
	if e, err := m.engine(); err == nil {
		e.StopPlay(call)
	}
}

// readWAV reads an announcement: mono 8 kHz (policy checked the format
// when it loaded the file).
func readWAV(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd, err := wav.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ft := rd.Format(); ft.Channels != 1 || ft.SampleRate != 8000 {
		return nil, fmt.Errorf("%s: %d channels at %d Hz, want mono 8000 Hz", path, ft.Channels, ft.SampleRate)
	}
	pcm := make([]int16, rd.Frames())
	n := 0
	for n < len(pcm) {
		k, err := rd.Read(pcm[n:])
		n += k
		if err != nil || k == 0 {
			break
		}
	}
	return pcm[:n], nil
}

// onDigit hands a digit the engine detected to the B2BUA.
func onDigit(b *sbc.B2BUA, d rtpengine.Digit) {
	side := sbc.SideA
	if d.Tag == legTag[sbc.SideB] {
		side = sbc.SideB
	}
	b.Digit(d.CallID, sbc.Digit{Key: d.Key, Duration: d.Duration, Side: side, Method: d.Method})
}

// Digit passes a digit to the observers that want digits.
func (o observers) Digit(rec *sbc.CallRecord, d sbc.Digit) {
	for _, x := range o {
		if dx, ok := x.(sbc.DigitObserver); ok {
			dx.Digit(rec, d)
		}
	}
}
