package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/firmware/capture"
	"github.com/openborder/openborder/firmware/hep"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/sbc"
)

// captureSink feeds signalling and media to packet capture and HEP. It is
// an sbc.Observer (SIP) and an rtpengine.PacketTap (media).
type captureSink struct {
	cap     *capture.Capturer // nil: no captures
	tap     *capture.Tap
	hep     *hep.Sender // nil: no HEP
	agentID uint32
	engine  *rtpengine.Engine
	log     *slog.Logger
	// sipIDs maps a call's ID to its caller-side SIP Call-ID, the HEP
	// correlation of the RTCP its media peers send (HEP only).
	sipIDs sync.Map
}

// newCaptureSink opens what the policy configures (nil when nothing).
func newCaptureSink(c policy.CaptureConfig, log *slog.Logger) (*captureSink, error) {
	if c.Dir == "" && c.HEP.Address == "" {
		return nil, nil
	}
	s := &captureSink{log: log, agentID: uint32(c.HEP.AgentID)}
	if c.Dir != "" {
		cp, err := capture.New(capture.Config{Dir: c.Dir, RingOff: c.NoRing, RingDuration: c.RingDuration,
			RingBytes: c.RingBytes, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		s.cap, s.tap = cp, cp.Tap()
	}
	if c.HEP.Address != "" {
		hs, err := hep.NewSender(hep.SenderConfig{Network: c.HEP.Transport, Addr: c.HEP.Address,
			AgentID: uint32(c.HEP.AgentID), Password: c.HEP.Password, Logger: log})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("hep: %w", err)
		}
		s.hep = hs
	}
	return s, nil
}

// Close flushes running captures and stops HEP.
func (s *captureSink) Close() {
	if s.cap != nil {
		_ = s.cap.Close()
	}
	if s.hep != nil {
		_ = s.hep.Close()
	}
}

func parseAddr(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

var captureTransports = map[string]capture.Transport{"UDP": capture.UDP, "TCP": capture.TCP, "TLS": capture.TLS, "WS": capture.WS, "WSS": capture.WSS}

// Message captures a SIP message (ring, per-call captures) and sends it
// over HEP.
func (s *captureSink) Message(ev sbc.MessageEvent) {
	src, dst := parseAddr(ev.Msg.Source()), parseAddr(ev.Msg.Destination())
	if ev.Dir == sbc.Out && !src.IsValid() {
		src = parseAddr(ev.Local)
	}
	local, remote := dst, src
	if ev.Dir == sbc.Out {
		local, remote = src, dst
	}
	key := ""
	if cid := ev.Msg.CallID(); cid != nil {
		key = string(*cid)
	}
	if req, ok := ev.Msg.(*sip.Request); ok && s.tap != nil && ev.Dir == sbc.In && req.Method == sip.INVITE {
		if to := req.To(); to != nil && !to.Params.Has("tag") {
			call := capture.Call{Key: key, CallIDs: []string{key}, Numbers: []string{req.Recipient.User, to.Address.User}}
			if f := req.From(); f != nil {
				call.Numbers = append(call.Numbers, f.Address.User)
			}
			if remote.IsValid() {
				call.Addrs = []netip.Addr{remote.Addr()}
			}
			s.tap.CallStarted(call)
		}
	}
	toHEP := s.hep != nil && src.IsValid() && dst.IsValid()
	var rec *capture.Record
	if s.tap != nil {
		d := capture.In
		if ev.Dir == sbc.Out {
			d = capture.Out
		}
		rec = &capture.Record{Dir: d, Transport: captureTransports[ev.Transport], Kind: capture.SIP,
			Local: local, Remote: remote, Realm: ev.Realm, CallKey: key}
		if !s.tap.Wants(rec) {
			rec = nil
		}
	}
	if rec == nil && !toHEP {
		return // nobody wants the message's bytes
	}
	payload := []byte(ev.Msg.String())
	if rec != nil {
		rec.Payload = payload
		s.tap.Packet(rec)
	}
	if toHEP {
		tr := uint8(hep.TransportUDP)
		if ev.Transport != "UDP" {
			tr = hep.TransportTCP
		}
		s.hep.Send(&hep.Packet{Src: src, Dst: dst, Transport: tr, Time: time.Now(), Type: hep.ProtoSIP,
			CorrelationID: key, Payload: payload})
	}
}

func (s *captureSink) Rejected(string, sip.RequestMethod, string) {}
func (s *captureSink) CallAnswered(*sbc.CallRecord)               {}

// AttemptStarted links the call's legs and media for capture filters and
// starts capturing the media when a capture selects the call.
func (s *captureSink) AttemptStarted(rec *sbc.CallRecord) {
	if s.hep != nil {
		s.sipIDs.Store(rec.ID, rec.ACallID)
	}
	if s.tap == nil {
		return
	}
	call := capture.Call{CallIDs: []string{rec.ACallID, rec.BCallID},
		Numbers: []string{rec.CallerIn, rec.CalleeIn, rec.CallerOut, rec.CalleeOut}}
	if n := len(rec.Attempts); n > 0 {
		if gw := parseAddr(rec.Attempts[n-1].Gateway); gw.IsValid() {
			call.Addrs = append(call.Addrs, gw.Addr())
		}
	}
	captured := false
	for _, key := range []string{rec.ID, rec.ACallID, rec.BCallID} {
		call.Key = key
		if s.tap.CallStarted(call) {
			captured = true
		}
	}
	if captured && s.engine != nil {
		_ = s.engine.Capture(rec.ID, true)
	}
}

func (s *captureSink) CallEnded(rec *sbc.CallRecord) {
	if s.hep != nil {
		s.sipIDs.Delete(rec.ID)
	}
	if s.tap == nil {
		return
	}
	for _, key := range []string{rec.ID, rec.ACallID, rec.BCallID} {
		if key != "" {
			s.tap.CallEnded(key)
		}
	}
}

// MediaPacket captures a media packet of a captured call (rtpengine.PacketTap).
func (s *captureSink) MediaPacket(callID string, in, rtcp bool, local, remote netip.AddrPort, pkt []byte) {
	if s.hep != nil && in && rtcp {
		// quality reports of every call to the collector, tied to the
		// call's SIP by the caller's Call-ID
		corr := callID
		if v, ok := s.sipIDs.Load(callID); ok {
			corr = v.(string)
		}
		s.hep.Send(&hep.Packet{Src: remote, Dst: local, Transport: hep.TransportUDP, Time: time.Now(),
			Type: hep.ProtoRTCP, CorrelationID: corr, Payload: pkt})
	}
	if s.tap == nil {
		return
	}
	d, kind := capture.Out, capture.RTP
	if in {
		d = capture.In
	}
	if rtcp {
		kind = capture.RTCP
	}
	s.tap.Packet(&capture.Record{Dir: d, Transport: capture.UDP, Kind: kind, Local: local, Remote: remote,
		CallKey: callID, Payload: pkt})
}

// startFor re-evaluates the calls in progress after a capture started, so
// a capture of a call already up records its media too.
func (s *captureSink) startFor(calls []sbc.CallInfo) {
	for _, c := range calls {
		call := capture.Call{Key: c.ID, Numbers: []string{c.Caller, c.Callee}}
		for _, l := range c.Legs {
			call.CallIDs = append(call.CallIDs, l.CallID)
			if p := parseAddr(l.Peer); p.IsValid() {
				call.Addrs = append(call.Addrs, p.Addr())
			}
		}
		if s.tap.CallStarted(call) && s.engine != nil {
			_ = s.engine.Capture(c.ID, true)
		}
	}
}
