package opus

import "errors"

var (
	// ErrConfig reports an encoder or decoder configuration out of range.
	ErrConfig = errors.New("opus: invalid configuration")
	// ErrFrameSize reports a PCM buffer whose length is not the frame size
	// the call expects.
	ErrFrameSize = errors.New("opus: wrong frame size")
	// ErrBufferTooSmall reports an output buffer too small for the result.
	ErrBufferTooSmall = errors.New("opus: buffer too small")
	// ErrInvalidPacket reports a packet that is empty, malformed or that
	// libopus refuses to decode.
	ErrInvalidPacket = errors.New("opus: invalid packet")
	// ErrUnavailable reports a build without cgo, where libopus is absent.
	ErrUnavailable = errors.New("opus: libopus not available (built without cgo)")
	// ErrCodec reports any other failure inside libopus.
	ErrCodec = errors.New("opus: codec error")
)
