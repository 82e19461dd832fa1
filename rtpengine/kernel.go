package rtpengine

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/rtpengine/kfwd"
	"github.com/pion/srtp/v3"
)

// KernelMode selects in-kernel forwarding of plain RTP (kernel_linux.go).
type KernelMode string

const (
	// KernelOff never offloads a stream (the default).
	KernelOff KernelMode = ""
	// KernelAuto offloads where the kernel can (CAP_NET_ADMIN, conntrack
	// with NAT hooks in sbcd's network namespace) and else runs every
	// stream in user space, saying so once in the log.
	KernelAuto KernelMode = "auto"
	// KernelOn offloads like KernelAuto; New fails when the kernel cannot.
	KernelOn KernelMode = "on"
)

// kernelPoll is how often offloaded streams' kernel counters are read
// (statistics, media timeout) and eligibility is checked again.
const kernelPoll = 500 * time.Millisecond

// kernelEntryTimeout is a new kernel entry's lifetime before its first
// packet; packets renew it with the kernel's UDP timeouts.
const kernelEntryTimeout = 60

// KernelMetrics describes in-kernel forwarding. Mode is "off" (not
// configured), "on" (entries are being made) or "fallback" (configured
// auto, the kernel could not: every stream in user space).
type KernelMetrics struct {
	Mode string
	// Offloaded is the streams forwarded in the kernel now (one per
	// stream, both directions).
	Offloaded int
	// Packets and Bytes are what the kernel forwarded for sbcd since
	// start (read from conntrack counters and the SRTP program's slots;
	// bytes of RTP datagrams, without IP and UDP headers).
	Packets, Bytes uint64
	// Offloads counts streams handed to the kernel, Failures entries
	// the kernel refused.
	Offloads, Failures uint64
	// SRTP is "on" when SRTP <-> RTP streams are offloaded too (the
	// in-kernel SRTP program is attached), else the reason it is not.
	SRTP string
	// SRTPOffloaded is the SRTP <-> RTP streams among Offloaded;
	// SRTPTakenBack counts those returned to user space because the
	// kernel met packets it does not handle (a new SSRC, RTCP on the RTP
	// port, datagrams over 1472 bytes).
	SRTPOffloaded int
	SRTPTakenBack uint64
	// SRTPRuns and SRTPRunNs are the kernel's count and time of the SRTP
	// program's runs (every IPv4 datagram arriving on the interfaces it
	// is attached to); both stay 0 unless the kernel.bpf_stats_enabled
	// sysctl is 1.
	SRTPRuns, SRTPRunNs uint64
}

// kernelFlow describes one stream to forward in the kernel: packets from
// a's latched peer to a's local port go to b's latched peer from b's
// local port, and back.
type kernelFlow struct {
	aPeer, aLocal, bPeer, bLocal netip.AddrPort
	// srtp, for an SRTP <-> RTP stream, is the side speaking SRTP (1: a,
	// 2: b), with that side's contexts and both sides' SSRCs (the secure
	// side's, the plain side's). The flow is comparable, so new keys or
	// a new SSRC make a new flow.
	srtp               uint8
	rx, tx             *cipher
	ssrcSec, ssrcPlain uint32
}

// kernelEligible tells whether the stream between ea and eb (partners,
// in call c) needs nothing from user space, and if so the flow to
// install; reason says why not. Called with c.mu held.
func kernelEligible(c *call, ea, eb *endpoint) (kernelFlow, string) {
	var f kernelFlow
	if c.deleted {
		return f, "deleted"
	}
	if ea == nil || eb == nil || ea == eb || ea.partner.Load() != eb || eb.partner.Load() != ea {
		return f, "not a relayed pair"
	}
	if c.svc != nil || c.player != nil {
		return f, "playback or service"
	}
	if c.rec != nil {
		return f, "recorded"
	}
	sec, why := srtpSide(ea, eb)
	if why != "" {
		return f, why
	}
	for _, ep := range [2]*endpoint{ea, eb} {
		switch {
		case ep.ice.Load() != nil:
			return f, "ice"
		case ep.xcode.Load() != nil:
			return f, "transcoded"
		case ep.dsp.Load() != nil:
			return f, "dtmf processing"
		case ep.conf.Load() != nil:
			return f, "conference"
		case ep.rec.Load() != nil:
			return f, "recorded"
		case ep.tap.Load() != nil:
			return f, "captured"
		case ep.hold.Load():
			return f, "hold"
		case ep.mux.Load():
			return f, "rtcp-mux"
		case ep.pp == nil || ep.pp.rtp == nil:
			return f, "no socket"
		case ep.pool != nil && ep.pool.cfg.NoKernel:
			return f, "interface opts out"
		}
	}
	la, lb := ea.latRTP.Load(), eb.latRTP.Load()
	if la == nil || lb == nil {
		return f, "not latched"
	}
	f = kernelFlow{aPeer: *la, aLocal: ea.pp.rtp.local, bPeer: *lb, bLocal: eb.pp.rtp.local}
	if sec != nil {
		plain := eb
		f.srtp = 1
		if sec == eb {
			plain, f.srtp = ea, 2
		}
		s1, s2 := sec.rxSSRC.Load(), plain.rxSSRC.Load()
		if s1 == 0 || s2 == 0 {
			return kernelFlow{}, "ssrc not seen yet"
		}
		f.rx, f.tx, f.ssrcSec, f.ssrcPlain = sec.rx.Load(), sec.tx.Load(), uint32(s1), uint32(s2)
		if !f.aLocal.Addr().Unmap().Is4() || !f.aPeer.Addr().Unmap().Is4() || !f.bPeer.Addr().Unmap().Is4() {
			return kernelFlow{}, "srtp over ipv6"
		}
	}
	for _, a := range [4]netip.AddrPort{f.aPeer, f.aLocal, f.bPeer, f.bLocal} {
		if !usable(a) {
			return kernelFlow{}, "wildcard or unset address"
		}
	}
	if f.aPeer.Addr().Unmap().Is4() != f.aLocal.Addr().Unmap().Is4() ||
		f.bPeer.Addr().Unmap().Is4() != f.bLocal.Addr().Unmap().Is4() ||
		f.aLocal.Addr().Unmap().Is4() != f.bLocal.Addr().Unmap().Is4() {
		return kernelFlow{}, "mixed address families"
	}
	return f, ""
}

// srtpSide returns the endpoint of a stream that speaks SRTP when the
// kernel can take the stream over (SDES SRTP with an AES_CM_128 suite on
// exactly one side), nil for plain RTP on both, and a reason otherwise.
func srtpSide(ea, eb *endpoint) (*endpoint, string) {
	var sec *endpoint
	for _, ep := range [2]*endpoint{ea, eb} {
		rx, tx := ep.rx.Load(), ep.tx.Load()
		if !ep.secure.Load() && rx == nil && tx == nil && ep.dtls.Load() == nil {
			continue
		}
		switch {
		case sec != nil:
			return nil, "srtp on both legs"
		case ep.dtls.Load() != nil:
			return nil, "dtls-srtp"
		case rx == nil || tx == nil:
			return nil, "srtp keys not agreed"
		case !kernelSuite(rx.attr.suite) || !kernelSuite(tx.attr.suite):
			return nil, "srtp suite " + rx.attr.suite.name
		}
		sec = ep
	}
	return sec, ""
}

// kernelSuite tells whether the in-kernel SRTP program speaks a suite.
func kernelSuite(s suite) bool {
	return s.profile == srtp.ProtectionProfileAes128CmHmacSha1_80 || s.profile == srtp.ProtectionProfileAes128CmHmacSha1_32
}

// kernelPairs calls fn for every relayed stream of c once (the endpoint
// of the earlier monologue first). Called with c.mu held.
func (c *call) kernelPairs(fn func(ea, eb *endpoint)) {
	for i, m := range c.order {
		o := m.other
		if o == nil {
			continue
		}
		if j := monoIndex(c.order, o); j >= 0 && j < i && o.other == m {
			continue // seen from o's side
		}
		for k, ea := range m.eps {
			if ea == nil || k >= len(o.eps) || o.eps[k] == nil {
				continue
			}
			fn(ea, o.eps[k])
		}
	}
}

func monoIndex(s []*monologue, m *monologue) int {
	for i, x := range s {
		if x == m {
			return i
		}
	}
	return -1
}

func (f kernelFlow) String() string {
	return fmt.Sprintf("%s->%s / %s->%s", f.aPeer, f.aLocal, f.bPeer, f.bLocal)
}

// offload is a stream forwarded in the kernel: by a conntrack entry for
// plain RTP (a's peer sends the entry's original direction, b's peer its
// reply direction), by two slots of the SRTP program for SRTP <-> RTP.
// The last counters read are kept to add only what is new to the
// endpoints. Guarded by the call's lock.
type offload struct {
	a, b  *endpoint
	flow  kernelFlow
	orig  kfwd.Counters
	reply kfwd.Counters
	// failed: the kernel refused this flow; it is not tried again until
	// the flow changes (new latch, new SDP).
	failed bool
	// slots are the in-kernel SRTP slots of an SRTP <-> RTP stream plus
	// one (0: none): the secure side's unprotect, the plain side's
	// protect; srtpSeen the counters of theirs already accounted.
	slots    [2]int
	srtpSeen [2]srtpSeen
}

// srtpSeen is what was last read of one in-kernel SRTP slot.
type srtpSeen struct {
	cnt          kfwd.Counters
	drops, other uint64
}

// kfwdFlow is the conntrack entry of f.
func (f kernelFlow) kfwdFlow() kfwd.Flow {
	return kfwd.Flow{Orig: kfwd.Tuple{Src: f.aPeer, Dst: f.aLocal}, DNAT: f.bPeer, SNAT: f.bLocal, Timeout: kernelEntryTimeout}
}

// account adds the kernel's counters beyond what o saw last to both
// endpoints (bytes without the IP and UDP headers) and returns the new
// packets and bytes.
func (o *offload) account(e kfwd.Entry, now int64) (pk, by uint64) {
	hdr := uint64(28)
	if !o.flow.aLocal.Addr().Unmap().Is4() {
		hdr = 48
	}
	p1, b1 := addCounts(&o.orig, e.OrigCnt, hdr, o.a, o.b, now)
	p2, b2 := addCounts(&o.reply, e.ReplyCnt, hdr, o.b, o.a, now)
	return p1 + p2, b1 + b2
}

// addCounts adds what cur counts beyond last (packets from's peer sent,
// to's peer received; hdr bytes of headers per packet not counted) to
// both endpoints, remembers cur, and returns the new packets and bytes.
// Counters that went backwards belong to a new kernel entry and count
// from zero.
func addCounts(last *kfwd.Counters, cur kfwd.Counters, hdr uint64, from, to *endpoint, now int64) (pk, by uint64) {
	if cur.Packets < last.Packets || cur.Bytes < last.Bytes {
		*last = kfwd.Counters{}
	}
	dp, db := cur.Packets-last.Packets, cur.Bytes-last.Bytes
	*last = cur
	if dp == 0 {
		return 0, 0
	}
	if db >= dp*hdr {
		db -= dp * hdr
	}
	from.c.packetsIn.Add(dp)
	from.c.bytesIn.Add(db)
	from.c.lastRecv.Store(now)
	from.kernLast.Store(now)
	to.c.packetsOut.Add(dp)
	to.c.bytesOut.Add(db)
	return dp, db
}

// kernelYield takes c's streams back from the kernel before a control
// operation changes them (no-op without kernel forwarding). Called with
// c.mu held.
func (e *Engine) kernelYield(c *call) {
	if e.kern != nil {
		e.kern.yield(c)
	}
}

// kernelKick is the channel new endpoints wake the manager with.
func (e *Engine) kernelKick() chan *call {
	if e.kern != nil {
		return e.kern.kick
	}
	return nil
}

// startKernel sets up in-kernel forwarding per cfg.Kernel.
func (e *Engine) startKernel() error {
	e.kernMode = "off"
	if e.cfg.Kernel == KernelOff {
		return nil
	}
	k, err := newKernel(e)
	if err != nil {
		if e.cfg.Kernel == KernelOn {
			return fmt.Errorf("%w: %w", ErrKernel, err)
		}
		e.kernMode = "fallback"
		e.log.Warn("kernel forwarding unavailable; every stream is relayed in user space", "err", err)
		return nil
	}
	e.kern, e.kernMode = k, "on"
	e.wg.Add(1)
	go k.loop()
	e.log.Info("kernel forwarding on: plain RTP streams are forwarded by conntrack once both peers are latched")
	return nil
}

// KernelMetrics returns the state of in-kernel forwarding.
func (e *Engine) KernelMetrics() KernelMetrics {
	m := KernelMetrics{Mode: e.kernMode}
	if k := e.kern; k != nil {
		m.Offloaded = int(k.offloaded.Load())
		m.Packets, m.Bytes = k.packets.Load(), k.bytes.Load()
		m.Offloads, m.Failures = k.offloads.Load(), k.failures.Load()
		m.SRTP, m.SRTPOffloaded, m.SRTPTakenBack = k.srtpState, int(k.srtpOffloaded.Load()), k.takenBack.Load()
		m.SRTPRuns, m.SRTPRunNs = k.srtpRunStats()
	} else {
		m.SRTP = "off"
	}
	return m
}

// codecClock is the clock rate of a "NAME/clock" codec name; 8000 when
// unknown (the G.711 family's).
func codecClock(codec string) int {
	_, c, ok := strings.Cut(codec, "/")
	if !ok {
		return 8000
	}
	if n, err := strconv.Atoi(c); err == nil && n > 0 {
		return n
	}
	return 8000
}

// srtpFilterPrio is the tc priority of this engine's in-kernel SRTP
// filter: from its lowest media port, so that engines with their own port
// ranges on one host (media nodes) each keep a filter of their own, and a
// restarted engine replaces the one it left.
func srtpFilterPrio(ifs []InterfaceConfig) uint16 {
	lowest := 0
	for i, ic := range ifs {
		if i == 0 || ic.PortMin < lowest {
			lowest = ic.PortMin
		}
	}
	return uint16(0x4000 + lowest%0xbfff)
}

// maxDeferrals is how many times in a row a hand-over waits for a packet
// in the stream's sockets before it goes ahead anyway. An overloaded
// user-space relay always has packets waiting; without a bound it would
// never shed the streams that would relieve it.
const maxDeferrals = 10

// handOverNow decides whether a stream goes to the kernel now, given
// whether a packet waits in its sockets (dropped by the relay after the
// hand-over) and the deferrals so far, which it counts and resets.
func handOverNow(waiting bool, deferrals *uint8) bool {
	if waiting && *deferrals < maxDeferrals {
		*deferrals++
		return false
	}
	*deferrals = 0
	return true
}
