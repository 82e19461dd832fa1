package rtpengine

import (
	"log/slog"

	"github.com/openborder/openborder/rtpengine/conference"
	"net"
	"net/netip"
	"time"
)

// Config configures an Engine. Zero values mean the documented defaults.
type Config struct {
	// Interfaces are the port pools; in sbcd one per realm, in the ng
	// protocol the names used by the "direction" flag.
	Interfaces []InterfaceConfig
	// Timeout ends a call whose media stopped for this long (OnTimeout). Default 60s.
	Timeout time.Duration
	// HoldTimeout replaces Timeout while every stream of a call is on hold. Default 1h.
	HoldTimeout time.Duration
	// PortDrain keeps a released port out of its pool this long. Default 5s.
	PortDrain time.Duration
	// OnTimeout is called once per call, on its own goroutine, when media
	// timed out; the call stays until Delete. Default nil: the engine then
	// deletes the call itself.
	OnTimeout func(callID string)
	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
	// Tap receives the media packets of calls captured with Capture.
	// Default nil: Capture fails.
	Tap PacketTap
	// TapRTCP sends the RTCP every call's peers send (inbound, plain) to
	// Tap as well, captured or not: quality reports for a HEP collector.
	TapRTCP bool
	// ListenUDP opens media sockets for the goroutine relay. Default
	// net.ListenUDP("udp", laddr). Setting it selects the goroutine relay
	// when Relay is RelayAuto.
	ListenUDP func(laddr *net.UDPAddr) (*net.UDPConn, error)
	// Transcode configures transcoding (transcoding.go).
	Transcode TranscodeConfig
	// Recording configures call recording (recording.go).
	Recording RecordingConfig
	// Conference configures the conference rooms of the
	// "conference:<room>" service (conference.go). Default: the
	// conference package's defaults.
	Conference conference.Config
	// Relay selects how media sockets are read. Default RelayAuto.
	Relay RelayMode
	// RelayWorkers is the number of epoll relay workers (each one OS
	// thread). Default half of runtime.GOMAXPROCS(0), at least 1.
	RelayWorkers int
	// Kernel selects in-kernel forwarding of plain RTP streams
	// (kernel.go). Default KernelOff.
	Kernel KernelMode
	// OnDigit receives every DTMF digit detected in calls offered with
	// Flags.DTMF, on one goroutine of the engine (dtmf.go). Default nil.
	OnDigit func(Digit)
}

// RelayMode is the socket model of the media relay.
type RelayMode string

const (
	// RelayAuto uses the epoll relay where it exists (Linux) and
	// ListenUDP is not set, else the goroutine relay.
	RelayAuto RelayMode = ""
	// RelayEpoll: raw non-blocking sockets outside Go's poller, served by
	// RelayWorkers threads blocking in epoll_wait, reading with recvmmsg
	// and sending with sendmmsg/sendto. Linux only; New fails elsewhere.
	RelayEpoll RelayMode = "epoll"
	// RelayGoroutine: one reader goroutine per media socket (portable).
	RelayGoroutine RelayMode = "goroutine"
)

// InterfaceConfig is one port pool.
type InterfaceConfig struct {
	// Name identifies the pool.
	Name string
	// Addr is the bind address.
	Addr netip.Addr
	// Advertised is written into SDP. Default Addr.
	Advertised netip.Addr
	// PortMin and PortMax bound the pool (inclusive). RTP uses even ports and
	// RTCP the next odd one unless rtcp-mux.
	PortMin, PortMax int
	// DSCP is set on media sockets (IP_TOS = DSCP<<2). Default (0) 46 (EF);
	// -1 leaves the socket's default (best effort).
	DSCP int
	// NoKernel keeps streams with a side in this pool in user space
	// when Config.Kernel forwards in the kernel. Default false.
	NoKernel bool
}

// Flags steer how an offer or answer is rewritten (the ng protocol's flags).
type Flags struct {
	// FromInterface and ToInterface name the pools for the offerer's side
	// and the other side; empty means the first interface.
	FromInterface, ToInterface string
	// ICE is "" or "remove" (strip ICE attributes) or "force" (offer
	// ICE-lite with our own credentials and candidates).
	ICE string
	// TransportProtocol is "" (keep the offer's) or one of RTP/AVP, RTP/AVPF,
	// RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVP, UDP/TLS/RTP/SAVPF.
	TransportProtocol string
	// RTCPMux is "" (keep: each side gets rtcp-mux when the other side's
	// SDP has it), "offer" (offer it to the other side), "demux" (never
	// use it), "accept" (accept it from the offerer whatever the answerer
	// says) or "require" (offer and accept it; no RTCP ports are opened).
	RTCPMux string
	// ReplaceOrigin and ReplaceSessionConnection rewrite o= and the session c=.
	ReplaceOrigin, ReplaceSessionConnection bool
	// Record asks for the call to be recorded (see StartRecording); it
	// is ignored when no RecordingConfig.Dir is configured.
	Record bool
	// Codecs, when non-empty, restricts the codecs in the SDP sent to the other side.
	Codecs []string
	// DTMF, when set, turns on DTMF detection and interworking (dtmf.go).
	DTMF *DTMFFlags
}

// OfferRequest is an SDP offer from the monologue FromTag of call CallID.
// ToTag may be empty on an initial offer.
type OfferRequest struct {
	CallID, FromTag, ToTag string
	SDP                    []byte
	Flags                  Flags
}

// AnswerRequest is the SDP answer from ToTag to an offer made by FromTag.
type AnswerRequest struct {
	CallID, FromTag, ToTag string
	SDP                    []byte
	Flags                  Flags
}

// ServeRequest asks the engine itself to answer an offer with a built-in
// service: "echo", "tone" (1000 Hz) or "tone:<Hz>" (100-3400 Hz, e.g.
// "tone:400"). Interface "" is the first interface.
type ServeRequest struct {
	CallID, FromTag string
	SDP             []byte
	Interface       string
	Service         string
}

// CallStats describes a call's media. RFactor and MOS come from the worst
// direction (ITU-T G.107 E-model).
type CallStats struct {
	CallID       string
	Created      time.Time
	Legs         []LegStats
	RFactor, MOS float64
	// Transcoded reports that the call's media was transcoded between
	// its legs at some point.
	Transcoded bool
	// RecordingPath is the main file of the call's latest recording (the
	// WAV, else the PCAP; final once the recording stops); "" if the call
	// was never recorded.
	RecordingPath string
}

// LegStats describes one monologue.
type LegStats struct {
	Tag       string
	Interface string
	Streams   []StreamStats
	// RFactor and MOS are the E-model estimates of the worst stream
	// received from this leg's peer (0 before any RTP arrived).
	RFactor, MOS float64
}

// StreamStats describes one media stream of a leg (what was received from
// and sent to that leg's peer). Packets and bytes count RTP and RTCP; Lost,
// Duplicates, OutOfOrder and Jitter come from the RTP sequence (RFC 3550);
// RTT is measured from the peer's RTCP reports on sender reports relayed to
// it; Dropped counts packets refused (malformed, from a non-latched source,
// STUN/DTLS/other kinds not handled yet, or without a destination). Peer is
// the latched address, else the one from SDP.
type StreamStats struct {
	Media string
	// Codec is the codec negotiated with this leg's peer, as "NAME/clock"
	// (e.g. "PCMU/8000", "opus/48000"); "" until an answer was seen.
	Codec                                 string
	Local, Peer                           netip.AddrPort
	PacketsIn, PacketsOut                 uint64
	BytesIn, BytesOut                     uint64
	Lost, Duplicates, OutOfOrder, Dropped uint64
	Jitter, RTT                           time.Duration
	// XR is the latest RTCP XR VoIP metrics report (RFC 3611 4.7) the peer
	// sent about the stream it receives; nil if it sent none.
	XR *XRMetrics
}

// XRMetrics is an endpoint's own view of its call quality, from its RTCP
// XR VoIP metrics: loss and discard rates (0-1), R factor and MOS as it
// computed them (0 = unavailable), round-trip delay (capped at 255 ms) and
// end-system delay (4 ms steps, capped at 1020 ms).
type XRMetrics struct {
	LossRate, DiscardRate float64
	RFactor, MOSLQ, MOSCQ float64
	RTT, EndSystemDelay   time.Duration
}
