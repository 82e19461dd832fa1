package rtpengine

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// relatchAfter is how long a latched source must have been silent before
// a packet from another source may take its place.
//
// Latching rule (RFC 7362 symmetric RTP, strict source): the first valid
// RTP packet on an RTP socket latches its source address and SSRC (on a
// dedicated RTCP socket the first valid RTCP packet and its sender SSRC).
// After that only the latched address is accepted; packets from any other
// address are dropped and counted. The latch moves to a new address only
// when a valid packet arrives from it carrying a different SSRC than the
// latched one, and the latched address has sent nothing for relatchAfter.
// A change of the peer's address in SDP clears the latch.
const relatchAfter = time.Second

// readBufSize bounds one datagram. Media fits the path MTU (1500 bytes on
// Ethernet, less with tunnels); a larger datagram is truncated by the OS.
// The epoll relay has one ring of these per worker; the goroutine relay
// one buffer per socket.
const readBufSize = 2048

// maxReadErrors ends a reader whose socket keeps failing.
const maxReadErrors = 100

// latch is a reader's learned source.
type latch struct {
	set  bool
	gen  uint32
	addr netip.AddrPort
	ssrc uint32
	last int64 // monoNow() of the last packet from addr
}

// reader is the relay state of one media socket: its latch, sequence
// state and SRTP buffers. It is used by one goroutine at a time: the
// socket's own reader goroutine (goroutine relay) or the relay worker that
// serves the socket (epoll relay).
type reader struct {
	ep    *endpoint
	sock  *mediaSock
	rtcp  bool // the dedicated RTCP socket
	errs  int  // consecutive read errors
	latch latch
	seq   seqState
	// cb holds SRTP buffers once this reader meets a secure leg.
	cb *cryptoBufs
	// seqGen is the endpoint's seqGen the sequence state belongs to.
	seqGen uint32
}

// accept applies the latching rule to a valid packet with the given
// source SSRC; canLatch is false for RTCP on an RTP socket.
func (r *reader) accept(src netip.AddrPort, ssrc uint32, canLatch bool, now int64) bool {
	l := &r.latch
	if gen := r.ep.latchGen.Load(); gen != l.gen {
		l.set, l.gen = false, gen
	}
	if !l.set {
		if !canLatch {
			return true
		}
		r.learn(src, ssrc, now)
		return true
	}
	if src == l.addr {
		l.last = now
		if canLatch && ssrc != l.ssrc {
			l.ssrc = ssrc
			r.ep.rxSSRC.Store(uint64(ssrc) | 1<<32)
		}
		return true
	}
	last := l.last
	if k := r.ep.kernLast.Load(); k != 0 {
		// The kernel forwarded the latched source's packets: its last
		// poll that saw some stands for them, plus a poll interval.
		last = max(last, k+int64(kernelPoll))
	}
	if canLatch && ssrc != l.ssrc && now-last >= int64(relatchAfter) {
		r.learn(src, ssrc, now)
		return true
	}
	return false
}

// learn latches src and publishes it (this allocates, once per latch).
func (r *reader) learn(src netip.AddrPort, ssrc uint32, now int64) {
	r.latch.set, r.latch.addr, r.latch.ssrc, r.latch.last = true, src, ssrc, now
	a := src
	if r.rtcp {
		r.ep.latRTCP.Store(&a)
	} else {
		r.ep.latRTP.Store(&a)
		r.ep.rxSSRC.Store(uint64(ssrc) | 1<<32)
		if k := r.ep.kick; k != nil {
			select { // the kernel forwarding manager looks at the call again
			case k <- r.ep.owner:
			default: // full: its next periodic round does
			}
		}
	}
}

// handle is the per-packet relay decision: demux, validate, latch, count
// and choose where the packet goes. It returns the packet to send (b, or
// b rewritten in place by the DTMF processing) and ok=false when the
// packet is dropped or consumed. It does not allocate (except when a latch
// moves).
func (r *reader) handle(b []byte, src netip.AddrPort, now int64) (pkt []byte, out *mediaSock, dst netip.AddrPort, ok bool) {
	ep := r.ep
	c := &ep.c
	var h rtpHeader
	kind := demux(b, &h)
	switch kind {
	case kindRTP:
		if r.rtcp || !r.accept(src, h.ssrc, true, now) {
			c.dropped.Add(1)
			return nil, nil, dst, false
		}
		var clock uint32
		if p := ep.params.Load(); p != nil {
			clock = p.clock[h.pt]
		}
		if g := ep.seqGen.Load(); g != r.seqGen {
			r.seqGen = g // back from the kernel: a new sequence
			r.seq.restart(&h)
		} else {
			r.seq.update(&h, now, clock, c)
		}
		if ep.kick != nil { // only kernel forwarding reads it
			ep.rxSeq.Store(uint32(r.seq.maxSeq))
		}
	case kindRTCP:
		if !r.accept(src, rtcpSenderSSRC(b), r.rtcp, now) {
			c.dropped.Add(1)
			return nil, nil, dst, false
		}
		ri := parseRTCPInfo(b)
		if ri.xr != 0 {
			c.xr.Store(ri.xr)
		}
		if ri.rr != 0 {
			if p := ep.partner.Load(); p != nil {
				p.c.rr.Store(ri.rr)
			}
		}
		if ri.lsr != 0 {
			if d, found := ep.sentSRs.rtt(ri.lsr, ri.dlsr, now); found {
				c.rttNs.Store(int64(d))
			}
		}
		if p := ep.partner.Load(); p != nil && ri.srNTPMid != 0 {
			p.sentSRs.put(ri.srNTPMid, now)
		}
	case kindSTUN:
		// ICE-lite: binding requests are answered here (ice.go); anything
		// else STUN-shaped is dropped.
		c.stun.Add(1)
		if !r.answerSTUN(b, src, now) {
			c.dropped.Add(1)
		}
		return nil, nil, dst, false
	case kindDTLS:
		// DTLS-SRTP records go to the leg's DTLS session (dtls.go).
		c.dtls.Add(1)
		if s := ep.dtls.Load(); s != nil {
			s.feed(b, src)
		} else {
			c.dropped.Add(1)
		}
		return nil, nil, dst, false
	default:
		c.dropped.Add(1)
		return nil, nil, dst, false
	}
	c.packetsIn.Add(1)
	c.bytesIn.Add(uint64(len(b)))
	c.lastRecv.Store(now)

	// Media services hook (recording.go, transcoding.go): a recorded
	// stream's RTP is copied to its recording queue; a transcoded stream's
	// packets go to its pipeline's worker queue instead of to the partner.
	if t := ep.rec.Load(); t != nil && kind == kindRTP {
		t.packet(b, src, ep.local)
	}
	if x := ep.xcode.Load(); x != nil {
		x.submit(kind == kindRTP, b, now)
		return nil, nil, dst, false
	}
	if d := ep.dsp.Load(); d != nil && kind == kindRTP {
		var fwd bool
		if b, fwd = d.packet(b, &h, now); !fwd {
			return nil, nil, dst, false
		}
	}

	if cp := ep.conf.Load(); cp != nil {
		if kind == kindRTP {
			cp.Push(b)
		}
		return nil, nil, dst, false
	}
	p := ep.partner.Load()
	if p == nil {
		return nil, nil, dst, false // consumed (a service endpoint)
	}
	if kind == kindRTP {
		out, dst = p.pp.rtp, p.rtpDest()
	} else {
		out, dst = p.rtcpDest()
	}
	if p.kernOn.Load() && out == p.pp.rtp {
		// The kernel forwards this stream: a packet that still reaches
		// user space (in flight at the hand-over, or from a source the
		// latch is moving to) must not go out of the same port pair, or
		// conntrack would give it another source port. The manager
		// hands the stream back or to the new source at once.
		c.dropped.Add(1)
		return nil, nil, dst, false
	}
	if !usable(dst) || !p.hasConsent(now) {
		c.dropped.Add(1)
		return nil, nil, dst, false
	}
	p.c.packetsOut.Add(1)
	p.c.bytesOut.Add(uint64(len(b)))
	return b, out, dst, true
}

// run reads the socket until it is closed (goroutine relay).
func (r *reader) run(log *slog.Logger) {
	conn := r.sock.conn
	defer func() {
		if v := recover(); v != nil {
			log.Error("media reader panicked", "panic", v, "local", conn.LocalAddr().String())
		}
	}()
	buf := make([]byte, readBufSize)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if r.errs++; r.errs >= maxReadErrors {
				log.Error("media socket keeps failing; reader stops", "err", err, "local", conn.LocalAddr().String())
				return
			}
			continue
		}
		r.errs = 0
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		pkt, ok := r.unprotect(buf[:n])
		if !ok {
			continue
		}
		pkt, out, dst, ok := r.handle(pkt, src, monoNow())
		if !ok {
			continue
		}
		if tt := r.ep.tap.Load(); tt != nil {
			r.tapped(tt, pkt, src, dst)
		}
		if pkt, ok = r.protect(pkt); !ok {
			continue
		}
		if out == nil || out.conn == nil {
			r.ep.c.dropped.Add(1)
			continue
		}
		if _, err := out.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			r.ep.c.dropped.Add(1)
		}
	}
}

// unprotect decrypts an SRTP/SRTCP packet from a secure peer; other
// packets (plain legs, STUN, DTLS) pass unchanged.
func (r *reader) unprotect(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] < 128 || b[0] > 191 {
		return b, true
	}
	rx := r.ep.rx.Load()
	if rx == nil {
		if r.ep.secure.Load() {
			// A secure leg without keys yet: nothing passes in clear.
			r.ep.c.srtpErrors.Add(1)
			r.ep.c.dropped.Add(1)
			return nil, false
		}
		return b, true
	}
	if r.cb == nil {
		r.cb = new(cryptoBufs)
	}
	out, ok := rx.decrypt(r.cb.plain[:0], b)
	if !ok {
		r.ep.c.srtpErrors.Add(1)
		r.ep.c.dropped.Add(1)
	}
	return out, ok
}

// protect encrypts a packet for a secure partner leg.
func (r *reader) protect(b []byte) ([]byte, bool) {
	p := r.ep.partner.Load()
	if p == nil {
		return b, true
	}
	tx := p.tx.Load()
	if tx == nil {
		if p.secure.Load() {
			p.c.dropped.Add(1)
			return nil, false
		}
		return b, true
	}
	if r.cb == nil {
		r.cb = new(cryptoBufs)
	}
	out, ok := tx.encrypt(r.cb.out[:0], b)
	if !ok {
		p.c.srtpErrors.Add(1)
		p.c.dropped.Add(1)
	}
	return out, ok
}
