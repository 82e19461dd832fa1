//go:build linux

package rtpengine

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/openborder/openborder/rtpengine/ksrtp"
)

// The in-kernel SRTP of an offloaded SRTP <-> RTP stream: two slots of
// the ksrtp program, one unprotecting what the secure side's peer sends
// to our port on that side, one protecting what the plain side's peer
// sends to ours on the other. Conntrack NAT carries the packets between
// the two as for plain RTP. The rollover counters go into the kernel
// with the stream and come back from it into the user-space contexts.

// tagLen is the RTP authentication tag length of a suite.
func tagLen(s suite) int {
	n, _ := s.profile.AuthTagRTPLen()
	return n
}

// slotStreams are the two slots' streams of an SRTP flow: the secure
// side's peer's SRTP is unprotected at our port on that side, the plain
// side's peer's RTP protected at ours on the other. Each continues the
// index its user-space context reached (ROC and the highest sequence
// number the reader saw). A slot also matches its packets as conntrack
// has already translated them when their destination is on this host
// (see ksrtp.Stream.NATSrc).
func slotStreams(f kernelFlow, sec, plain *endpoint, local func(netip.Addr) bool) [2]ksrtp.Stream {
	secPeer, secLocal, plainPeer, plainLocal := f.aPeer, f.aLocal, f.bPeer, f.bLocal
	if f.srtp == 2 {
		secPeer, secLocal, plainPeer, plainLocal = f.bPeer, f.bLocal, f.aPeer, f.aLocal
	}
	rk, tk := f.rx.attr.key, f.tx.attr.key
	s := [2]ksrtp.Stream{
		{Mode: ksrtp.Unprotect, Peer: secPeer, Local: secLocal, SSRC: f.ssrcSec,
			MasterKey: rk[:16], MasterSalt: rk[16:], TagLen: tagLen(f.rx.attr.suite),
			ROC: f.rx.roc(f.ssrcSec), LastSeq: uint16(sec.rxSeq.Load()), SeqKnown: true},
		{Mode: ksrtp.Protect, Peer: plainPeer, Local: plainLocal, SSRC: f.ssrcPlain,
			MasterKey: tk[:16], MasterSalt: tk[16:], TagLen: tagLen(f.tx.attr.suite),
			ROC: f.tx.roc(f.ssrcPlain), LastSeq: uint16(plain.rxSeq.Load()), SeqKnown: true},
	}
	if local(plainPeer.Addr()) {
		s[0].NATSrc, s[0].NATDst = plainLocal, plainPeer
	}
	if local(secPeer.Addr()) {
		s[1].NATSrc, s[1].NATDst = secLocal, secPeer
	}
	return s
}

// localAddr tells whether a is an address of this host.
func localAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

// needsQuiesce tells whether a slot of o matches translated packets,
// which the relay may be sending from our ports at the hand-over.
func needsQuiesce(s [2]ksrtp.Stream) bool {
	return s[0].NATSrc.IsValid() || s[1].NATSrc.IsValid()
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
		k.account(o, i, c)
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

// account adds a slot's new drops to the secure endpoint's SRTP errors
// and reports whether the kernel dropped packets it does not handle.
func (k *kernel) account(o *offload, i int, c ksrtp.Counters) (other bool) {
	seen := &o.srtpSeen[i]
	if d := c.AuthFail + c.Replayed; d > seen.drops {
		sec, _ := o.sides()
		sec.c.srtpErrors.Add(d - seen.drops)
		seen.drops = d
	}
	if c.Other > seen.other {
		seen.other = c.Other
		return true
	}
	return false
}

// srtpCheck reads o's slots and tells whether the stream must come back
// to user space.
func (k *kernel) srtpCheck(o *offload) bool {
	back := false
	for i := range o.slots {
		if o.slots[i] != 0 && k.account(o, i, k.sr.Counters(ksrtp.Slot(o.slots[i]-1))) {
			back = true
		}
	}
	return back
}
