package sbc

import (
	"errors"

	"github.com/openborder/openborder/policy"
)

// Conference errors: the media plane wraps them when it refuses a join.
var (
	// ErrConferenceFull means the room has its maximum of participants
	// (the caller gets 486 Busy Here).
	ErrConferenceFull = errors.New("conference room full")
	// ErrConferenceRooms means no further room may open (503).
	ErrConferenceRooms = errors.New("too many conference rooms")
)

// conferenceService is the media service that joins a call to a room.
const conferenceService = "conference:"

// routeOrConference decides a new call: a join when the Request-URI
// names a conference room (policy conferences.uri_pattern; conferences
// come before the routes), else the routes' decision, for an emergency
// call with every trunk a candidate whatever its health.
func (c *call) routeOrConference(rq policy.Request, emergency bool) policy.Decision {
	if room, ok := c.pol.ConferenceRoom(rq.SourceRealm, rq.RURIUser); ok && !emergency {
		return policy.Decision{Route: "conference", Service: conferenceService + room}
	}
	if emergency {
		return c.pol.Decide(rq, live{b: c.b, emergency: true}, nil)
	}
	return c.b.decide(c.pol, rq, nil)
}

// conferenceRejection maps a refused join onto its SIP response.
func conferenceRejection(err error) *Rejection {
	switch {
	case errors.Is(err, ErrConferenceFull):
		r := reject(486, "conference_full", err)
		r.SIPReason = reasonHeader(486, "Conference full")
		return r
	case errors.Is(err, ErrConferenceRooms):
		r := reject(503, "conference_rooms", err)
		r.SIPReason = reasonHeader(503, "Too many conferences")
		return r
	}
	return nil
}
