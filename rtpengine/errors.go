package rtpengine

import "errors"

var (
	// ErrNoPorts reports an exhausted port pool.
	ErrNoPorts = errors.New("rtpengine: no free media ports")
	// ErrNotFound reports an unknown call or tag.
	ErrNotFound = errors.New("rtpengine: call not found")
	// ErrBadSDP reports SDP that cannot be parsed or used; the wrapped
	// error says why.
	ErrBadSDP = errors.New("rtpengine: bad SDP")
	// ErrUnknownInterface reports a Flags or ServeRequest interface name
	// that is not configured.
	ErrUnknownInterface = errors.New("rtpengine: unknown interface")
	// ErrBadFlags reports an unknown flag value (ICE, RTCPMux,
	// TransportProtocol, Service).
	ErrBadFlags = errors.New("rtpengine: bad flags")
	// ErrNoTap means Capture was asked of an engine without a Tap.
	ErrNoTap = errors.New("no packet tap configured")
	// ErrNoCodec reports that codec filtering left a stream without codecs.
	ErrNoCodec = errors.New("rtpengine: no codec left")
	// ErrBadConfig reports an invalid Config.
	ErrBadConfig = errors.New("rtpengine: bad config")
	// ErrBadRequest reports a request missing a required field.
	ErrBadRequest = errors.New("rtpengine: bad request")
	// ErrKernel reports that Config.Kernel is KernelOn and the kernel
	// cannot forward media (no CAP_NET_ADMIN, no conntrack NAT).
	ErrKernel = errors.New("rtpengine: kernel forwarding unavailable")
	// ErrClosed reports use of a closed Engine.
	ErrClosed = errors.New("rtpengine: engine closed")
)
