package admin

// Recording is the reply of POST /api/v1/calls/{id}/recording (start
// recording a call's media) and DELETE /api/v1/calls/{id}/recording (stop
// it and complete the files).
type Recording struct {
	// CallID is sbcd's call identifier.
	CallID string `json:"call_id"`
	// State is "recording" after POST, "stopped" after DELETE.
	State string `json:"state"`
	// Directory holds the recording's files.
	Directory string `json:"directory,omitempty"`
	// Files are the files written (DELETE): WAV and/or PCAP, and the
	// JSON metadata.
	Files []string `json:"files,omitempty"`
	// Seconds is the recorded duration (DELETE).
	Seconds float64 `json:"seconds,omitempty"`
	// Dropped counts packets lost to a full recording queue (DELETE).
	Dropped uint64 `json:"dropped,omitempty"`
}
