package conference

import "errors"

// Sentinel errors.
var (
	// ErrFull refuses a Join to a room that has MaxParticipants.
	ErrFull = errors.New("conference: room full")
	// ErrTooManyRooms refuses a Join that would open a room beyond MaxRooms.
	ErrTooManyRooms = errors.New("conference: too many rooms")
	// ErrConfig reports a bad Config or ParticipantConfig.
	ErrConfig = errors.New("conference: bad configuration")
	// ErrCodec reports a codec the mixer cannot decode or encode.
	ErrCodec = errors.New("conference: unsupported codec")
	// ErrNotFound reports an unknown room or participant.
	ErrNotFound = errors.New("conference: not found")
	// ErrClosed is returned by Join after Close.
	ErrClosed = errors.New("conference: bridge closed")
)
