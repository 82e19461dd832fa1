package rtpengine

import (
	"net/netip"

	"github.com/openborder/openborder/rtpengine/conference"
	"sync/atomic"
	"time"
)

// monoBase anchors the engine's monotonic packet clock.
var monoBase = time.Now()

// monoNow is monotonic nanoseconds since process start (never 0 in use).
func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }

// mediaParams is the per-stream state the control plane publishes to the
// readers (swapped as a whole on offer/answer).
type mediaParams struct {
	clock [128]uint32 // RTP clock rate per payload type; 0 = unknown
}

// endpoint is one side of an anchored stream: our socket(s) facing one
// monologue's peer. Everything the readers touch is atomic; the control
// plane replaces whole values and never locks against the packet path.
type endpoint struct {
	media string
	pool  *pool
	pp    *portPair
	local netip.AddrPort // advertised address and RTP port

	// partner is where packets received here are forwarded: the other
	// side's endpoint (self for echo; nil = consume, e.g. tone).
	partner atomic.Pointer[endpoint]
	// sigRTP/sigRTCP are the peer's addresses from its SDP; latRTP/latRTCP
	// what the readers learned from its packets (they win once set).
	sigRTP, sigRTCP atomic.Pointer[netip.AddrPort]
	latRTP, latRTCP atomic.Pointer[netip.AddrPort]
	// mux: the peer uses rtcp-mux, so RTCP goes to its RTP address from
	// our RTP socket.
	mux atomic.Bool
	// latchGen is bumped by the control plane to make the readers forget
	// their latch (the peer's signalled address changed).
	latchGen atomic.Uint32
	// hold: the stream is sendonly/recvonly/inactive in the latest SDP.
	hold   atomic.Bool
	params atomic.Pointer[mediaParams]

	// ice holds our ICE-lite credentials towards the peer (nil: no ICE);
	// consent is monoNow() of the peer's last valid binding request.
	ice     atomic.Pointer[iceCreds]
	consent atomic.Int64

	// dtls is the DTLS-SRTP association with the peer (nil: none);
	// secure means this side must not carry plain media: packets are
	// dropped until its keys exist.
	dtls   atomic.Pointer[dtlsSession]
	secure atomic.Bool

	// rx unprotects what the peer sends us and tx protects what we send
	// it (SDES-SRTP); nil means plain RTP on this side.
	rx, tx atomic.Pointer[cipher]

	// tap is set while the call is captured (nil otherwise).
	tap atomic.Pointer[tapTarget]

	// xcode transcodes what this endpoint receives (nil: passthrough);
	// see transcoding.go.
	xcode atomic.Pointer[xstream]
	// conf is the conference participant this endpoint's peer is (nil:
	// none); it takes the RTP received here (conference.go).
	conf atomic.Pointer[conference.Participant]
	// rec is set while the call is recorded (recording.go).
	rec atomic.Pointer[recordTap]
	// dsp processes DTMF in what this endpoint receives (nil: none;
	// dtmf.go).
	dsp atomic.Pointer[dsp]
	// kern is the stream's kernel forwarding while it is offloaded
	// (kernel.go; guarded by the call's lock). kick wakes the kernel
	// forwarding manager when the latch moves (nil: kernel forwarding
	// off). kernLast is monoNow() of the last poll that saw the kernel
	// forward packets from this endpoint's peer (0: never offloaded);
	// seqGen is bumped when the stream comes back to user space so the
	// readers restart their sequence state instead of counting what the
	// kernel forwarded as lost.
	kern   *offload
	kernOn atomic.Bool // kern is installed in the kernel
	// kernDefer counts hand-overs put off in a row because a packet
	// waited in the stream's sockets (guarded by the call's lock).
	kernDefer uint8
	kick      chan *call
	owner     *call // the call kick names
	kernLast  atomic.Int64
	seqGen    atomic.Uint32
	// rxSSRC is the SSRC of the RTP the latched peer sends, with bit 32
	// set (0: none yet); the RTP reader publishes it when it changes.
	rxSSRC atomic.Uint64
	// rxSeq is the highest sequence number of that RTP (the RTP reader's
	// in-order maximum), for the kernel to continue the SRTP index; kept
	// only with kernel forwarding on (kick set).
	rxSeq atomic.Uint32
	// peerNames are the payload type names of the peer's latest SDP
	// (control plane only).
	peerNames map[string]string
	// codec is the codec negotiated with the peer ("PCMU/8000"; control
	// plane only, set by answers).
	codec string
	// xoffer is what this endpoint's peer offered when the other side
	// was offered transcoded codecs (control plane only).
	xoffer *xoffer

	c       counters
	sentSRs srRing // SRs we forwarded to this endpoint's peer

	// offeredMux: this endpoint's peer offered rtcp-mux (control plane
	// only, guarded by the call's lock).
	offeredMux bool
	// ourCrypto are the a=crypto lines we offered to this endpoint's peer,
	// peerCrypto the ones its offer carried, and peerProtos the protocol
	// of its offer (control plane only).
	ourCrypto  []cryptoAttr
	peerCrypto []cryptoAttr
	peerProtos []string
	// peerFP and peerSetup are the a=fingerprint and a=setup of the
	// peer's latest SDP (control plane only).
	peerFP, peerSetup string
	// sdes are the SDES keys of our latest answer to this endpoint's peer
	// (nil: none; control plane only).
	sdes *sdesKeys
}

// setPeer publishes the addresses the peer signalled in SDP. A change of
// the RTP address makes the readers latch afresh.
func (ep *endpoint) setPeer(rtp, rtcp netip.AddrPort, mux bool) {
	old := ep.sigRTP.Load()
	ep.sigRTP.Store(&rtp)
	ep.sigRTCP.Store(&rtcp)
	ep.mux.Store(mux)
	if old != nil && *old != rtp {
		ep.latRTP.Store(nil)
		ep.latRTCP.Store(nil)
		ep.latchGen.Add(1)
	}
}

// rtpDest is where RTP for this endpoint's peer goes.
func (ep *endpoint) rtpDest() netip.AddrPort {
	if p := ep.latRTP.Load(); p != nil {
		return *p
	}
	if p := ep.sigRTP.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// rtcpDest is the socket and address RTCP for this endpoint's peer uses.
func (ep *endpoint) rtcpDest() (*mediaSock, netip.AddrPort) {
	rtcp := ep.pp.rtcp.Load()
	if ep.mux.Load() || rtcp == nil {
		return ep.pp.rtp, ep.rtpDest()
	}
	if p := ep.latRTCP.Load(); p != nil {
		return rtcp, *p
	}
	if p := ep.sigRTCP.Load(); p != nil {
		return rtcp, *p
	}
	return rtcp, netip.AddrPort{}
}

// usable reports whether a destination can be sent to.
func usable(a netip.AddrPort) bool {
	return a.IsValid() && a.Port() != 0 && !a.Addr().IsUnspecified()
}
