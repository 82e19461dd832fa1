//go:build linux

package rtpengine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/rtpengine/kfwd"
	"github.com/openborder/openborder/rtpengine/ksrtp"
)

// The in-kernel SRTP of an offloaded SRTP <-> RTP stream: two slots of
// the ksrtp program, one unprotecting what the secure side's peer sends
// to our port on that side, one protecting what the plain side's peer
// sends to ours on the other. The program forwards each datagram to the
// other leg itself; such a stream has no conntrack entry, and its
// packets are counted from the slots. The rollover counters go into the
// kernel with the stream and come back from it into the user-space
// contexts.

// tagLen is the RTP authentication tag length of a suite.
func tagLen(s suite) int {
	n, _ := s.profile.AuthTagRTPLen()
	return n
}

// errMixedHosts: the program forwards between peers on this host
// (loopback to loopback) or between peers on other hosts (device to
// device), not from one to the other.
var errMixedHosts = errors.New("one peer on this host and one on another")

// route is where the kernel sends datagrams for a peer: on this host, or
// out of a device towards a next hop.
type route struct {
	local   bool
	ifindex int
	nh      netip.Addr
}

// routeTo looks a peer's route up in the routing table of the network
// namespace h was opened in (the engine's).
func routeTo(h *netlink.Handle, a netip.Addr) (route, error) {
	rs, err := h.RouteGet(net.IP(a.Unmap().AsSlice()))
	if err != nil {
		return route{}, fmt.Errorf("route to %s: %w", a, err)
	}
	if len(rs) == 0 {
		return route{}, fmt.Errorf("route to %s: none", a)
	}
	r := rs[0]
	if r.Type == unix.RTN_LOCAL {
		return route{local: true}, nil
	}
	if r.Type != unix.RTN_UNICAST {
		return route{}, fmt.Errorf("route to %s: type %d", a, r.Type)
	}
	// The program hands the packet to the neighbour layer of an
	// Ethernet device; other devices (tunnels, PPP) keep such streams in
	// user space.
	link, err := h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return route{}, fmt.Errorf("route to %s: device %d: %w", a, r.LinkIndex, err)
	}
	if t := link.Attrs().EncapType; t != "ether" {
		return route{}, fmt.Errorf("route to %s: device %s has %s framing", a, link.Attrs().Name, t)
	}
	nh := a.Unmap()
	if g, ok := netip.AddrFromSlice(r.Gw); ok && r.Gw != nil {
		nh = g.Unmap()
	}
	return route{ifindex: r.LinkIndex, nh: nh}, nil
}

// tos is the IP TOS byte an endpoint's socket marks its packets with.
func tos(ep *endpoint) uint8 {
	if ep.pool == nil || ep.pool.cfg.DSCP < 0 {
		return 0
	}
	return uint8(ep.pool.cfg.DSCP << 2)
}

// slotStreams are the two slots' streams of an SRTP flow: the secure
// side's peer's SRTP is unprotected at our port on that side and sent on
// from our port on the plain side to its peer; the plain side's peer's
// RTP is protected at ours on the other and sent on to the secure side's
// peer. Each continues the index its user-space context reached (ROC and
// the highest sequence number the reader saw). lookup finds each peer's
// route.
func slotStreams(f kernelFlow, sec, plain *endpoint, lookup func(netip.Addr) (route, error)) ([2]ksrtp.Stream, error) {
	secPeer, secLocal, plainPeer, plainLocal := f.aPeer, f.aLocal, f.bPeer, f.bLocal
	if f.srtp == 2 {
		secPeer, secLocal, plainPeer, plainLocal = f.bPeer, f.bLocal, f.aPeer, f.aLocal
	}
	toSec, err := lookup(secPeer.Addr())
	if err != nil {
		return [2]ksrtp.Stream{}, err
	}
	toPlain, err := lookup(plainPeer.Addr())
	if err != nil {
		return [2]ksrtp.Stream{}, err
	}
	if toSec.local != toPlain.local {
		return [2]ksrtp.Stream{}, errMixedHosts
	}
	rk, tk := f.rx.attr.key, f.tx.attr.key
	return [2]ksrtp.Stream{
		{Mode: ksrtp.Unprotect, Peer: secPeer, Local: secLocal, SSRC: f.ssrcSec,
			MasterKey: rk[:16], MasterSalt: rk[16:], TagLen: tagLen(f.rx.attr.suite),
			ROC: f.rx.roc(f.ssrcSec), LastSeq: uint16(sec.rxSeq.Load()), SeqKnown: true,
			Out: ksrtp.Forward{From: plainLocal, To: plainPeer, Ifindex: toPlain.ifindex, NextHop: toPlain.nh, TOS: tos(plain)}},
		{Mode: ksrtp.Protect, Peer: plainPeer, Local: plainLocal, SSRC: f.ssrcPlain,
			MasterKey: tk[:16], MasterSalt: tk[16:], TagLen: tagLen(f.tx.attr.suite),
			ROC: f.tx.roc(f.ssrcPlain), LastSeq: uint16(plain.rxSeq.Load()), SeqKnown: true,
			Out: ksrtp.Forward{From: secLocal, To: secPeer, Ifindex: toSec.ifindex, NextHop: toSec.nh, TOS: tos(sec)}},
	}, nil
}

// addSlots puts o's SRTP into the kernel.
func (k *kernel) addSlots(o *offload, streams [2]ksrtp.Stream) error {
	for i, s := range streams {
		slot, err := k.sr.Add(s)
		if err != nil {
			k.removeSlots(o)
			return fmt.Errorf("in-kernel srtp: %w", err)
		}
		o.slots[i] = int(slot) + 1
		o.srtpSeen[i] = srtpSeen{}
	}
	return nil
}

// sides are the endpoint of o that speaks SRTP and the plain one.
func (o *offload) sides() (sec, plain *endpoint) {
	if o.flow.srtp == 2 {
		return o.b, o.a
	}
	return o.a, o.b
}

// removeSlots takes o's SRTP out of the kernel and hands the rollover
// counters the kernel reached back to the user-space contexts.
func (k *kernel) removeSlots(o *offload) {
	for i := range o.slots {
		if o.slots[i] == 0 {
			continue
		}
		c := k.sr.Remove(ksrtp.Slot(o.slots[i] - 1))
		o.slots[i] = 0
		k.account(o, i, c, monoNow())
		if c.Fresh {
			continue
		}
		// The contexts and the sending peer's highest sequence number
		// continue from where the kernel got.
		sec, plain := o.sides()
		if i == 0 {
			o.flow.rx.setROC(o.flow.ssrcSec, c.ROC())
			sec.rxSeq.Store(uint32(uint16(c.Index)))
		} else {
			o.flow.tx.setROC(o.flow.ssrcPlain, c.ROC())
			plain.rxSeq.Store(uint32(uint16(c.Index)))
		}
	}
}

// account adds a slot's new packets to the stream's endpoints (slot 0
// carries the secure side's peer's packets, slot 1 the plain side's) and
// its new drops to the secure endpoint's SRTP errors, and reports whether
// the kernel dropped packets it does not handle.
func (k *kernel) account(o *offload, i int, c ksrtp.Counters, now int64) (other bool) {
	seen := &o.srtpSeen[i]
	sec, plain := o.sides()
	from, to := sec, plain
	if i == 1 {
		from, to = plain, sec
	}
	pk, by := addCounts(&seen.cnt, kfwd.Counters{Packets: c.Packets, Bytes: c.Bytes}, 0, from, to, now)
	k.packets.Add(pk)
	k.bytes.Add(by)
	if d := c.AuthFail + c.Replayed; d > seen.drops {
		sec.c.srtpErrors.Add(d - seen.drops)
		seen.drops = d
	}
	if c.Other > seen.other {
		seen.other = c.Other
		return true
	}
	return false
}

// srtpCheck reads o's slots, counts what they forwarded, and tells
// whether the stream must come back to user space.
func (k *kernel) srtpCheck(o *offload, now int64) bool {
	back := false
	for i := range o.slots {
		if o.slots[i] != 0 && k.account(o, i, k.sr.Counters(ksrtp.Slot(o.slots[i]-1)), now) {
			back = true
		}
	}
	return back
}
