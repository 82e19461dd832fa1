package transcode

import "errors"

var (
	// ErrConfig reports an unusable Config.
	ErrConfig = errors.New("transcode: bad config")
	// ErrCodec reports a codec this package cannot transcode.
	ErrCodec = errors.New("transcode: unsupported codec")
	// ErrPacket reports a malformed RTP packet.
	ErrPacket = errors.New("transcode: malformed RTP packet")
	// ErrPayloadType reports a packet whose payload type is neither the
	// decoded codec's nor the telephone-event one.
	ErrPayloadType = errors.New("transcode: unexpected payload type")
)
