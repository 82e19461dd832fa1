package rtpengine

import (
	"fmt"
	"net/netip"
)

// PacketTap sees the media packets of captured calls (packet capture).
// MediaPacket is called on the packet path for each packet received from a
// peer (in) and relayed to the other peer (out), in plain form (after
// SRTP unprotect, before protect). It must copy what it keeps and return
// at once; it is never called for calls that are not captured.
type PacketTap interface {
	MediaPacket(callID string, in, rtcp bool, local, remote netip.AddrPort, pkt []byte)
}

// tapTarget is a captured call's tap. rtcpOnly targets (Config.TapRTCP)
// see only the RTCP a call's peers send: the quality reports that go to a
// HEP collector for every call.
type tapTarget struct {
	callID   string
	t        PacketTap
	rtcpOnly bool
}

// baseTap is the tap a call's streams start with: the RTCP-only one when
// Config.TapRTCP is set, else none.
func (e *Engine) baseTap(callID string) *tapTarget {
	if !e.cfg.TapRTCP || e.cfg.Tap == nil {
		return nil
	}
	return &tapTarget{callID: callID, t: e.cfg.Tap, rtcpOnly: true}
}

// Capture starts (on) or stops copying a call's media packets to the
// engine's Config.Tap. Streams the call gets later are captured too.
func (e *Engine) Capture(callID string, on bool) error {
	if e.cfg.Tap == nil {
		return fmt.Errorf("capture %s: %w", callID, ErrNoTap)
	}
	c, err := e.lockCall(callID, false)
	if err != nil {
		return err
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	tt := e.baseTap(callID)
	if on {
		tt = &tapTarget{callID: callID, t: e.cfg.Tap}
	}
	for _, m := range c.order {
		m.tap = tt
		for _, ep := range m.eps {
			if ep != nil {
				ep.tap.Store(tt)
			}
		}
	}
	return nil
}

// tapped reports a relayed packet of a captured call: received on r from
// src, sent to dst from the partner endpoint.
func (r *reader) tapped(tt *tapTarget, pkt []byte, src, dst netip.AddrPort) {
	rtcp := r.rtcp || isRTCPPacket(pkt)
	if tt.rtcpOnly && !rtcp {
		return
	}
	local := r.ep.local
	if r.rtcp {
		local = netip.AddrPortFrom(local.Addr(), local.Port()+1)
	}
	tt.t.MediaPacket(tt.callID, true, rtcp, local, src, pkt)
	if tt.rtcpOnly {
		return // inbound reports only
	}
	if p := r.ep.partner.Load(); p != nil && dst.IsValid() {
		out := p.local
		if r.rtcp {
			out = netip.AddrPortFrom(out.Addr(), out.Port()+1)
		}
		tt.t.MediaPacket(tt.callID, false, rtcp, out, dst, pkt)
	}
}

// isRTCPPacket tells RTCP from RTP on a muxed socket (RFC 5761: payload
// types 192-223 are RTCP).
func isRTCPPacket(b []byte) bool { return len(b) > 1 && b[1] >= 192 && b[1] <= 223 }
