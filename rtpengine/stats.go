package rtpengine

import (
	"math"
	"sync/atomic"
	"time"
)

// counters are one endpoint's statistics. Readers update them with atomic
// operations; Query reads them without locking anything (a snapshot).
// "In" is what the endpoint's peer sent us, "out" what we sent to it.
type counters struct {
	packetsIn, bytesIn   atomic.Uint64
	packetsOut, bytesOut atomic.Uint64
	lost, expected       atomic.Uint64
	duplicates, ooo      atomic.Uint64
	dropped              atomic.Uint64
	jitterNs, rttNs      atomic.Int64
	xr                   atomic.Uint64 // latest RTCP XR VoIP metrics (packXR)
	lastRecv             atomic.Int64  // monoNow() of the last accepted packet; 0 = never
	stun, dtls           atomic.Uint64
	// rr is the latest RTCP report block about the stream this endpoint
	// receives, as the other leg's peer reported it (packRR): the loss
	// and jitter of a stream forwarded in the kernel come from there.
	rr atomic.Uint64
	// srtpErrors counts packets that failed SRTP authentication, replay
	// checks or protection (also counted in dropped).
	srtpErrors atomic.Uint64
	// dtlsFailures counts DTLS handshakes that failed or gave no keys,
	// dtlsDone those that gave SRTP keys.
	dtlsFailures, dtlsDone atomic.Uint64
}

// Sequence tracking limits (RFC 3550 A.1).
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// seqState follows one RTP source's sequence numbers and interarrival
// jitter (RFC 3550 A.1, A.3, A.8). It is owned by one reader goroutine and
// publishes its results into counters.
type seqState struct {
	started   bool
	ssrc      uint32
	maxSeq    uint16
	cycles    uint32
	baseExt   uint32
	received  uint64
	window    uint64 // bit i: extended seq max-i received
	prevLost  uint64 // lost packets of earlier sources / resyncs
	prevExp   uint64
	haveJit   bool
	prevArr   float64 // arrival of the previous in-order packet, timestamp units
	prevTS    uint32
	jitter    float64 // timestamp units
	clockRate uint32
}

func (s *seqState) extMax() uint32 { return s.cycles | uint32(s.maxSeq) }

// restart begins a new sequence at seq, keeping what was lost before.
func (s *seqState) restart(h *rtpHeader) {
	if s.started {
		s.prevLost += s.lostNow()
		s.prevExp += s.expectedNow()
	}
	s.started = true
	s.ssrc = h.ssrc
	s.maxSeq = h.seq
	s.cycles = 0
	s.baseExt = uint32(h.seq)
	s.received = 1
	s.window = 1
	s.haveJit = false
}

func (s *seqState) expectedNow() uint64 { return uint64(s.extMax()-s.baseExt) + 1 }

func (s *seqState) lostNow() uint64 {
	if e := s.expectedNow(); e > s.received {
		return e - s.received
	}
	return 0
}

// update accounts one valid RTP packet that arrived at now (monotonic ns).
func (s *seqState) update(h *rtpHeader, now int64, clock uint32, c *counters) {
	switch {
	case !s.started || h.ssrc != s.ssrc:
		s.restart(h)
	default:
		delta := h.seq - s.maxSeq
		switch {
		case delta == 0:
			c.duplicates.Add(1)
			return
		case delta < maxDropout: // in order, maybe with a gap
			if h.seq < s.maxSeq {
				s.cycles += 1 << 16
			}
			s.maxSeq = h.seq
			if delta >= 64 {
				s.window = 1
			} else {
				s.window = s.window<<delta | 1
			}
			s.received++
		case delta <= 65535-maxMisorder: // a jump: the source restarted
			s.restart(h)
		default: // late: out of order or duplicate
			back := s.maxSeq - h.seq
			if back < 64 {
				if s.window&(1<<back) != 0 {
					c.duplicates.Add(1)
					return
				}
				s.window |= 1 << back
			}
			s.received++
			c.ooo.Add(1)
			s.publish(c)
			return // late packets do not feed the jitter estimate
		}
	}
	s.jitterUpdate(h, now, clock)
	s.publish(c)
	if s.clockRate > 0 {
		c.jitterNs.Store(int64(s.jitter / float64(s.clockRate) * 1e9))
	}
}

// jitterUpdate is RFC 3550 A.8 with the arrival time in timestamp units.
func (s *seqState) jitterUpdate(h *rtpHeader, now int64, clock uint32) {
	if clock == 0 {
		s.haveJit = false
		return
	}
	if clock != s.clockRate {
		s.clockRate = clock
		s.haveJit = false
	}
	arr := float64(now) * float64(clock) / 1e9
	if s.haveJit {
		d := (arr - s.prevArr) - float64(int32(h.ts-s.prevTS))
		s.jitter += (math.Abs(d) - s.jitter) / 16
	}
	s.haveJit = true
	s.prevArr = arr
	s.prevTS = h.ts
}

func (s *seqState) publish(c *counters) {
	c.lost.Store(s.prevLost + s.lostNow())
	c.expected.Store(s.prevExp + s.expectedNow())
}

// srRing remembers when we forwarded recent RTCP sender reports to a peer,
// keyed by the SR's middle NTP bits, to measure RTT from its LSR/DLSR. Each
// slot packs the NTP middle bits (high 32) and the forwarding time in
// 1/65536 s units modulo 2^32 (low 32) into one atomic word.
type srRing struct {
	slots [8]atomic.Uint64
	next  atomic.Uint32
}

func ntpUnits(mono int64) uint32 { return uint32(uint64(mono) * 65536 / 1e9) }

func (r *srRing) put(ntpMid uint32, now int64) {
	i := r.next.Add(1) % uint32(len(r.slots))
	r.slots[i].Store(uint64(ntpMid)<<32 | uint64(ntpUnits(now)))
}

// rtt returns the round trip from the SR with middle bits lsr to a report
// received at now that says the peer held it for dlsr.
func (r *srRing) rtt(lsr, dlsr uint32, now int64) (time.Duration, bool) {
	for i := range r.slots {
		v := r.slots[i].Load()
		if v == 0 || uint32(v>>32) != lsr {
			continue
		}
		d := int32(ntpUnits(now) - uint32(v) - dlsr)
		if d < 0 {
			d = 0
		}
		if d > 60*65536 {
			return 0, false
		}
		return time.Duration(int64(d) * 1e9 / 65536), true
	}
	return 0, false
}

// snapshot reads the counters of an endpoint.
func (ep *endpoint) snapshot() StreamStats {
	c := &ep.c
	st := StreamStats{
		Media:      ep.media,
		Local:      ep.local,
		PacketsIn:  c.packetsIn.Load(),
		PacketsOut: c.packetsOut.Load(),
		BytesIn:    c.bytesIn.Load(),
		BytesOut:   c.bytesOut.Load(),
		Lost:       c.lost.Load(),
		Duplicates: c.duplicates.Load(),
		OutOfOrder: c.ooo.Load(),
		Dropped:    c.dropped.Load(),
		Jitter:     time.Duration(c.jitterNs.Load()),
		RTT:        time.Duration(c.rttNs.Load()),
	}
	st.XR = unpackXR(c.xr.Load())
	if ep.kernLast.Load() != 0 {
		// The kernel forwarded (part of) this stream, unseen by the
		// sequence statistics: the receiving peer's own report counts
		// the whole stream.
		if lost, jit, ok := unpackRR(c.rr.Load()); ok {
			st.Lost = max(st.Lost, lost)
			st.Jitter = time.Duration(jit) * time.Second / time.Duration(codecClock(ep.codec))
		}
	}
	if p := ep.latRTP.Load(); p != nil {
		st.Peer = *p
	} else if p := ep.sigRTP.Load(); p != nil {
		st.Peer = *p
	}
	return st
}

// unpackXR turns a packed VoIP metrics report back into XRMetrics; nil
// when the peer never sent one.
func unpackXR(v uint64) *XRMetrics {
	if v>>63 == 0 {
		return nil
	}
	mos := func(x uint64) float64 {
		if x == 127 || x < 10 || x > 50 {
			return 0 // unavailable or out of range
		}
		return float64(x) / 10
	}
	r := float64(v >> 32 & 0xff)
	if r == 127 {
		r = 0
	}
	return &XRMetrics{
		LossRate:       float64(v>>48&0xff) / 256,
		DiscardRate:    float64(v>>40&0xff) / 256,
		RFactor:        r,
		MOSLQ:          mos(v >> 24 & 0xff),
		MOSCQ:          mos(v >> 16 & 0xff),
		RTT:            time.Duration(v>>8&0xff) * time.Millisecond,
		EndSystemDelay: time.Duration(v&0xff) * 4 * time.Millisecond,
	}
}
