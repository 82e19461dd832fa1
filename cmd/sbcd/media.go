package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

// mediaBackend anchors relayed calls: the in-process *rtpengine.Engine, or
// remote media nodes over the ng protocol (remoteMedia).
type mediaBackend interface {
	Offer(ctx context.Context, r rtpengine.OfferRequest) ([]byte, error)
	Answer(ctx context.Context, r rtpengine.AnswerRequest) ([]byte, error)
	Delete(callID, fromTag string) (rtpengine.CallStats, error)
}

// mediaAdapter lets the B2BUA anchor media: relayed calls in e, built-in
// services in the in-process engine local. Leg A is the monologue tagged
// "A", leg B the one tagged "B". bundles keeps, per call, the BUNDLE
// layout of the last browser offer, which the answer to that browser must
// mirror.
type mediaAdapter struct {
	e       mediaBackend
	local   *rtpengine.Engine
	bundles *sync.Map // call ID -> rtpengine.Bundle
}

func newMediaAdapter(e mediaBackend, local *rtpengine.Engine) mediaAdapter {
	return mediaAdapter{e: e, local: local, bundles: &sync.Map{}}
}

var _ sbc.Media = mediaAdapter{}

var legTag = [2]string{sbc.SideA: "A", sbc.SideB: "B"}

func (m mediaAdapter) Offer(ctx context.Context, call string, from sbc.Side, sdp []byte, p sbc.MediaProfile) ([]byte, error) {
	to := from.Other()
	f := rtpengine.Flags{
		FromInterface: p.Realm[from], ToInterface: p.Realm[to], Codecs: p.Codecs[to],
		TransportProtocol: transportFor(p.SRTP[to]), Record: p.Record,
		ReplaceOrigin: true, ReplaceSessionConnection: true, DTMF: dtmfFlags(p, from),
	}
	switch {
	case p.SRTP[to] == "webrtc":
		f.ICE, f.RTCPMux = "force", "offer"
	case p.SRTP[from] == "webrtc":
		if f.TransportProtocol == "" {
			// A browser's DTLS, ICE and BUNDLE mean nothing to a SIP
			// peer that left the choice to the offerer: plain RTP.
			f.TransportProtocol = "RTP/AVP"
		}
		bundle, err := rtpengine.OfferBundle(sdp)
		if err != nil {
			return nil, classify(err)
		}
		m.bundles.Store(call, bundle)
		plain, err := rtpengine.PlainSDP(sdp)
		if err != nil {
			return nil, classify(err)
		}
		sdp = plain
	}
	out, err := m.e.Offer(ctx, rtpengine.OfferRequest{
		CallID: call, FromTag: legTag[from], ToTag: legTag[to], SDP: sdp, Flags: f,
	})
	if err == nil && p.SRTP[to] == "webrtc" {
		// Browsers expect a mid per m= line (and accept a BUNDLE group of
		// the single line sbcd anchors).
		out, err = rtpengine.NumberedBundle(out)
	}
	return out, classify(err)
}

func (m mediaAdapter) Answer(ctx context.Context, call string, from sbc.Side, sdp []byte, p sbc.MediaProfile) ([]byte, error) {
	offerer := from.Other()
	f := rtpengine.Flags{
		FromInterface: p.Realm[offerer], ToInterface: p.Realm[from],
		ReplaceOrigin: true, ReplaceSessionConnection: true, DTMF: dtmfFlags(p, offerer),
	}
	if p.SRTP[offerer] == "webrtc" {
		// The browser offered ICE and rtcp-mux; sbcd answers as ICE-lite
		// with rtcp-mux, whatever the other side did.
		f.ICE, f.RTCPMux = "force", "accept"
	}
	out, err := m.e.Answer(ctx, rtpengine.AnswerRequest{
		CallID: call, FromTag: legTag[offerer], ToTag: legTag[from], SDP: sdp, Flags: f,
	})
	if err == nil && p.SRTP[offerer] == "webrtc" {
		if b, ok := m.bundles.Load(call); ok {
			out, err = b.(rtpengine.Bundle).Apply(out)
		}
	}
	return out, classify(err)
}

func (m mediaAdapter) Serve(ctx context.Context, call, service string, sdp []byte, realm string) ([]byte, error) {
	out, err := m.local.Serve(ctx, rtpengine.ServeRequest{CallID: call, FromTag: legTag[sbc.SideA], SDP: sdp, Interface: realm, Service: service})
	return out, classify(err)
}

func (m mediaAdapter) Delete(call string) sbc.MediaStats {
	m.bundles.Delete(call)
	st, err := m.e.Delete(call, "")
	if err != nil {
		return sbc.MediaStats{}
	}
	var out sbc.MediaStats
	for _, l := range st.Legs {
		side := sbc.SideA
		if l.Tag == legTag[sbc.SideB] {
			side = sbc.SideB
		}
		for _, s := range l.Streams {
			out.RTPIn[side] += s.PacketsIn
			out.BytesIn[side] += s.BytesIn
			out.Lost[side] += s.Lost
			out.Jitter[side] = max(out.Jitter[side], s.Jitter)
			if out.Codec[side] == "" {
				out.Codec[side] = s.Codec // the first stream's: the audio
			}
		}
		out.LegMOS[side] = l.MOS
	}
	out.MOS = st.MOS
	out.Transcoded, out.RecordingPath = st.Transcoded, st.RecordingPath
	return out
}

// transportFor maps a leg's srtp policy onto the protocol offered to it:
// sdes offers RTP/SAVP with sbcd's own keys, dtls offers UDP/TLS/RTP/SAVP
// with sbcd's certificate, webrtc offers UDP/TLS/RTP/SAVPF (with ICE-lite
// and rtcp-mux, set by the caller), none offers plain RTP/AVP, optional keeps what
// the offerer chose.
func transportFor(srtp string) string {
	switch srtp {
	case "sdes":
		return "RTP/SAVP"
	case "dtls":
		return "UDP/TLS/RTP/SAVP"
	case "webrtc":
		return "UDP/TLS/RTP/SAVPF"
	case "none":
		return "RTP/AVP"
	}
	return ""
}

// classify maps engine errors onto the errors the B2BUA understands.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case classifyConference(err) != nil:
		return classifyConference(err)
	case errors.Is(err, rtpengine.ErrNoPorts):
		return fmt.Errorf("%w: %w", sbc.ErrMediaCapacity, err)
	case errors.Is(err, rtpengine.ErrBadSDP):
		return fmt.Errorf("%w: %w", sbc.ErrMediaSDP, err)
	}
	return err
}

// engineConfig builds the media engine's pools from the realms of a policy.
func engineConfig(pol *policy.Set) rtpengine.Config {
	mc := pol.Config().Media
	cfg := rtpengine.Config{Timeout: mc.Timeout, HoldTimeout: mc.HoldTimeout, PortDrain: mc.PortDrain,
		Transcode: transcodeConfig(mc.Transcoding), Recording: rtpengine.RecordingConfig{
			Dir: mc.Recording.Directory, WAV: mc.Recording.HasFormat("wav"), PCAP: mc.Recording.HasFormat("pcap"),
			Queue: mc.Recording.Queue},
		RelayWorkers: mc.Relay.Workers, Conference: conferenceConfig(pol)}
	if mc.Relay.Mode != policy.RelayAuto {
		cfg.Relay = rtpengine.RelayMode(mc.Relay.Mode)
	}
	switch mc.Relay.KernelForwarding {
	case policy.KernelAuto:
		cfg.Kernel = rtpengine.KernelAuto
	case policy.KernelOn:
		cfg.Kernel = rtpengine.KernelOn
	}
	for _, r := range pol.Realms() {
		dscp := -1
		if r.Media.DSCP != nil && *r.Media.DSCP > 0 {
			dscp = *r.Media.DSCP
		}
		cfg.Interfaces = append(cfg.Interfaces, rtpengine.InterfaceConfig{
			Name: r.Name, Addr: r.MediaAddr, Advertised: r.MediaAdvertised,
			PortMin: r.Media.PortMin, PortMax: r.Media.PortMax, DSCP: dscp,
			NoKernel: r.Media.NoKernelForwarding,
		})
	}
	return cfg
}

// opusComplexity maps opus_complexity onto the engine's and the
// conference bridge's setting: unset is their zero (their default, chosen
// by the encoder's application), a set 0 is -1.
func opusComplexity(c *int) int {
	switch {
	case c == nil:
		return 0
	case *c == 0:
		return -1
	}
	return *c
}

// transcodeConfig maps media.transcoding onto the engine's settings.
func transcodeConfig(t policy.TranscodingConfig) rtpengine.TranscodeConfig {
	complexity := opusComplexity(t.OpusComplexity)
	return rtpengine.TranscodeConfig{
		Disabled: !t.TranscodingEnabled(), Workers: t.Workers, QueueLen: t.Queue,
		MaxSessions: t.MaxSessions, OpusComplexity: complexity, OpusBitrate: t.OpusBitrate,
		OpusFEC: t.OpusFEC, OpusVoIP: t.OpusApplication == policy.OpusVoIP, Depth: t.ReorderDepth,
	}
}
