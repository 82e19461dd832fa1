package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Defaults and bounds of conferences.
const (
	DefaultConferenceParticipants = 20
	DefaultConferenceRooms        = 100
	DefaultConferenceMuteDigits   = "*6"
	DefaultConferenceJitterDepth  = 2
	maxConferenceParticipants     = 500
	maxConferenceRooms            = 10000
	maxConferenceRoomName         = 64
	roomPlaceholder               = "<room>"
)

// ConferenceConfig makes sbcd a conference bridge: a call whose
// Request-URI user matches URIPattern joins the room the pattern names.
// Conferences are checked before the routes.
type ConferenceConfig struct {
	// URIPattern is the Request-URI user that joins a room, with <room>
	// standing for the room's name (1-64 of A-Z a-z 0-9 - _ .), e.g.
	// "conf-<room>". Default "": conferences are off.
	URIPattern string `yaml:"uri_pattern"`
	// Realms are the source realms whose callers may join. Default: every realm.
	Realms []string `yaml:"realms"`
	// MaxParticipants is the most participants in one room (2-500); a
	// caller beyond it gets 486 Busy Here with a Reason header. Default 20.
	MaxParticipants int `yaml:"max_participants"`
	// MaxRooms is the most rooms open at once (1-10000); a caller who
	// would open another gets 503. Default 100.
	MaxRooms int `yaml:"max_rooms"`
	// JoinTone and LeaveTone play a short rising (join) or falling
	// (leave) two-note tone to the room. Default true.
	JoinTone  *bool `yaml:"join_tone"`
	LeaveTone *bool `yaml:"leave_tone"`
	// MuteDigits is the two-key DTMF code (RFC 4733) a participant sends
	// to mute or unmute itself. Default "*6"; "" turns DTMF mute off.
	MuteDigits *string `yaml:"mute_digits"`
	// JitterDepth is how many packets each participant's input buffer
	// holds before playout (1-8). Default 2 (40 ms at 20 ms packets).
	JitterDepth int `yaml:"jitter_depth"`
}

// Enabled reports whether conferences are on.
func (c ConferenceConfig) Enabled() bool { return c.URIPattern != "" }

func (c *Config) conferenceDefaults() {
	cc := &c.Conferences
	setInt(&cc.MaxParticipants, DefaultConferenceParticipants)
	setInt(&cc.MaxRooms, DefaultConferenceRooms)
	setInt(&cc.JitterDepth, DefaultConferenceJitterDepth)
	on := true
	if cc.JoinTone == nil {
		cc.JoinTone = &on
	}
	if cc.LeaveTone == nil {
		cc.LeaveTone = &on
	}
	if cc.MuteDigits == nil {
		d := DefaultConferenceMuteDigits
		cc.MuteDigits = &d
	}
}

func (v *validator) conferences() {
	cc := v.cfg.Conferences
	p := "conferences"
	if cc.URIPattern != "" {
		switch {
		case strings.Count(cc.URIPattern, roomPlaceholder) != 1:
			v.errAt(p+".uri_pattern", "%q must hold %s exactly once", cc.URIPattern, roomPlaceholder)
		case strings.ContainsAny(cc.URIPattern, " @:;?\r\n\t\x00"):
			v.errAt(p+".uri_pattern", "%q is not a Request-URI user", cc.URIPattern)
		}
	}
	for i, r := range cc.Realms {
		if v.realms[r] == nil {
			v.errAt(fmt.Sprintf("%s.realms[%d]", p, i), "unknown realm %q", r)
		}
	}
	if cc.MaxParticipants < 2 || cc.MaxParticipants > maxConferenceParticipants {
		v.errAt(p+".max_participants", "%d is outside 2-%d", cc.MaxParticipants, maxConferenceParticipants)
	}
	if cc.MaxRooms < 1 || cc.MaxRooms > maxConferenceRooms {
		v.errAt(p+".max_rooms", "%d is outside 1-%d", cc.MaxRooms, maxConferenceRooms)
	}
	if cc.JitterDepth < 1 || cc.JitterDepth > 8 {
		v.errAt(p+".jitter_depth", "%d is outside 1-8", cc.JitterDepth)
	}
	if d := *cc.MuteDigits; d != "" && (len(d) != 2 || strings.Trim(d, "0123456789*#ABCD") != "") {
		v.errAt(p+".mute_digits", "%q is not two DTMF keys (0-9, *, #, A-D)", d)
	}
}

// ConferenceRoom returns the room a call from sourceRealm to Request-URI
// user joins, or false when it is no conference call.
func (s *Set) ConferenceRoom(sourceRealm, user string) (string, bool) {
	cc := &s.cfg.Conferences
	if cc.URIPattern == "" || (len(cc.Realms) > 0 && !slices.Contains(cc.Realms, sourceRealm)) {
		return "", false
	}
	pre, suf, _ := strings.Cut(cc.URIPattern, roomPlaceholder)
	room, ok := strings.CutPrefix(user, pre)
	if !ok {
		return "", false
	}
	if room, ok = strings.CutSuffix(room, suf); !ok || room == "" || len(room) > maxConferenceRoomName {
		return "", false
	}
	for _, r := range room {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", false
		}
	}
	return room, true
}
