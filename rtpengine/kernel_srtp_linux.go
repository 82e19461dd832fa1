//go:build linux

package rtpengine

import (
	"fmt"

	"github.com/openborder/openborder/rtpengine/ksrtp"
)

// The in-kernel SRTP of an offloaded SRTP <-> RTP stream: two slots of
// the ksrtp program, one unprotecting what the secure side's peer sends
// to our port on that side, one protecting what the plain side's peer
// sends to ours on the other. Conntrack NAT carries the packets between
// the two as for plain RTP. The rollover counters go into the kernel
// with the stream and come back from it into the user-space contexts.

func tagLen(suite string) int {
	if suite == "AES_CM_128_HMAC_SHA1_32" {
		return 4
	}
	return 10
}

// slotStreams are the two slots' streams of an SRTP flow.
func slotStreams(f kernelFlow) [2]ksrtp.Stream {
	secPeer, secLocal, plainPeer, plainLocal := f.aPeer, f.aLocal, f.bPeer, f.bLocal
	if f.srtp == 2 {
		secPeer, secLocal, plainPeer, plainLocal = f.bPeer, f.bLocal, f.aPeer, f.aLocal
	}
	rk, tk := f.rx.attr.key, f.tx.attr.key
	return [2]ksrtp.Stream{
		{Mode: ksrtp.Unprotect, Peer: secPeer, Local: secLocal, NATSrc: plainLocal, NATDst: plainPeer, SSRC: f.ssrcSec,
			MasterKey: rk[:16], MasterSalt: rk[16:], TagLen: tagLen(f.rx.attr.suite.name), ROC: f.rx.roc(f.ssrcSec)},
		{Mode: ksrtp.Protect, Peer: plainPeer, Local: plainLocal, NATSrc: secLocal, NATDst: secPeer, SSRC: f.ssrcPlain,
			MasterKey: tk[:16], MasterSalt: tk[16:], TagLen: tagLen(f.tx.attr.suite.name), ROC: f.tx.roc(f.ssrcPlain)},
	}
}

// addSlots puts o's SRTP into the kernel.
func (k *kernel) addSlots(o *offload) error {
	for i, s := range slotStreams(o.flow) {
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

// secure is the endpoint of o that speaks SRTP.
func (o *offload) secure() *endpoint {
	if o.flow.srtp == 2 {
		return o.b
	}
	return o.a
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
		if i == 0 {
			o.flow.rx.setROC(o.flow.ssrcSec, c.ROC())
		} else {
			o.flow.tx.setROC(o.flow.ssrcPlain, c.ROC())
		}
	}
}

// account adds a slot's new drops to the secure endpoint's SRTP errors
// and reports whether the kernel dropped packets it does not handle.
func (k *kernel) account(o *offload, i int, c ksrtp.Counters) (other bool) {
	seen := &o.srtpSeen[i]
	if d := c.AuthFail + c.Replayed; d > seen.drops {
		o.secure().c.srtpErrors.Add(d - seen.drops)
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
