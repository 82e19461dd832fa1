package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

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
			call := capture.Call{Key: key, CallIDs: []string{key}, Numbers: []string{req.Recipient.User, to.Address.User},
				Realms: []string{ev.Realm}}
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
	// One call known by its id (media records) and both legs' Call-IDs
	// (SIP records): a filter that selects any part selects all of it.
	call := capture.Call{Key: rec.ID, Keys: []string{rec.ACallID, rec.BCallID}, CallIDs: []string{rec.ACallID, rec.BCallID},
		Numbers: []string{rec.CallerIn, rec.CalleeIn, rec.CallerOut, rec.CalleeOut},
		Realms:  []string{rec.ARealm, rec.BRealm}}
	if rec.Trunk != "" {
		call.Trunks = []string{rec.Trunk}
	}
	if n := len(rec.Attempts); n > 0 {
		if gw := parseAddr(rec.Attempts[n-1].Gateway); gw.IsValid() {
			call.Addrs = append(call.Addrs, gw.Addr())
		}
	}
	captured := s.tap.CallStarted(call)
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
			call.Keys = append(call.Keys, l.CallID)
			call.Realms = append(call.Realms, l.Realm)
			if l.Trunk != "" {
				call.Trunks = append(call.Trunks, l.Trunk)
			}
			if p := parseAddr(l.Peer); p.IsValid() {
				call.Addrs = append(call.Addrs, p.Addr())
			}
		}
		if s.tap.CallStarted(call) && s.engine != nil {
			_ = s.engine.Capture(c.ID, true)
		}
	}
}

var (
	descCapPackets = prometheus.NewDesc("openborder_capture_records_total",
		"Records offered to packet capture, by outcome: accepted (queued), dropped (queue full), invalid, written (to files).", []string{"outcome"}, nil)
	descCapWriteErrors = prometheus.NewDesc("openborder_capture_write_errors_total", "Failed writes of capture files.", nil, nil)
	descCapUntracked   = prometheus.NewDesc("openborder_capture_untracked_calls_total", "Calls capture filters could not see (call table full).", nil, nil)
	descCapRunning     = prometheus.NewDesc("openborder_capture_running", "Per-call captures running.", nil, nil)
	descCapQueued      = prometheus.NewDesc("openborder_capture_queued", "Records waiting for the capture writer.", nil, nil)
	descCapRing        = prometheus.NewDesc("openborder_capture_ring_bytes", "Bytes in the ring of recent signalling.", nil, nil)
	descHEP            = prometheus.NewDesc("openborder_hep_packets_total",
		"HEP packets, by outcome: sent, dropped (queue full), invalid, failed (network).", []string{"outcome"}, nil)
)

// captureCollector exports the capture and HEP counters.
type captureCollector struct{ s *captureSink }

func (c captureCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCapPackets, descCapWriteErrors, descCapUntracked, descCapRunning, descCapQueued, descCapRing, descHEP} {
		ch <- d
	}
}

func (c captureCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.s.cap != nil {
		st := c.s.cap.Stats()
		counter(descCapPackets, st.Accepted, "accepted")
		counter(descCapPackets, st.Dropped, "dropped")
		counter(descCapPackets, st.Invalid, "invalid")
		counter(descCapPackets, st.Written, "written")
		counter(descCapWriteErrors, st.WriteErrors)
		counter(descCapUntracked, st.Untracked)
		ch <- prometheus.MustNewConstMetric(descCapRunning, prometheus.GaugeValue, float64(st.Running))
		ch <- prometheus.MustNewConstMetric(descCapQueued, prometheus.GaugeValue, float64(st.Queued))
		ch <- prometheus.MustNewConstMetric(descCapRing, prometheus.GaugeValue, float64(st.RingBytes))
	}
	if c.s.hep != nil {
		st := c.s.hep.Stats()
		counter(descHEP, st.Sent, "sent")
		counter(descHEP, st.Dropped, "dropped")
		counter(descHEP, st.Invalid, "invalid")
		counter(descHEP, st.Failed, "failed")
	}
}
