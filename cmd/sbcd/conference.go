package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/conference"
	"github.com/openborder/openborder/sbc"
)

// conferenceConfig maps the policy's conferences and Opus settings onto
// the conference bridge's.
func conferenceConfig(pol *policy.Set) conference.Config {
	cc := pol.Config().Conferences
	t := pol.Config().Media.Transcoding
	complexity := opusComplexity(t.OpusComplexity)
	return conference.Config{
		MaxParticipants: cc.MaxParticipants, MaxRooms: cc.MaxRooms,
		JoinTone: *cc.JoinTone, LeaveTone: *cc.LeaveTone, MuteDigits: *cc.MuteDigits,
		Depth: cc.JitterDepth, OpusComplexity: complexity, OpusBitrate: t.OpusBitrate,
	}
}

// reloadConferences applies a reloaded policy's conference settings to
// the engine (set once the engine runs).
var reloadConferences = func(*policy.Set) {}

func applyConferences(e *rtpengine.Engine, log *slog.Logger) func(*policy.Set) {
	return func(pol *policy.Set) {
		if err := e.SetConferenceConfig(conferenceConfig(pol)); err != nil {
			log.Error("conference settings not applied", "err", err)
		}
	}
}

// classifyConference maps a refused join onto the B2BUA's errors.
func classifyConference(err error) error {
	switch {
	case errors.Is(err, conference.ErrFull):
		return fmt.Errorf("%w: %w", sbc.ErrConferenceFull, err)
	case errors.Is(err, conference.ErrTooManyRooms):
		return fmt.Errorf("%w: %w", sbc.ErrConferenceRooms, err)
	}
	return nil
}

// conferenceErr maps bridge errors onto the API's statuses.
func conferenceErr(err error) error {
	if errors.Is(err, conference.ErrNotFound) {
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	}
	return err
}

// addConferenceRoutes adds GET /api/v1/conferences[/{room}] and
// POST/DELETE /api/v1/conferences/{room}/participants/{id}/mute.
func addConferenceRoutes(api *admin.Server, e *rtpengine.Engine) {
	api.Handle("GET /api/v1/conferences", admin.ReadOnly, false, func(*http.Request) (any, error) {
		return e.Conferences(), nil
	})
	api.Handle("GET /api/v1/conferences/{room}", admin.ReadOnly, false, func(r *http.Request) (any, error) {
		ri, err := e.Conference(r.PathValue("room"))
		return ri, conferenceErr(err)
	})
	mute := func(muted bool) admin.HandlerFunc {
		return func(r *http.Request) (any, error) {
			room, id := r.PathValue("room"), r.PathValue("id")
			if err := e.MuteConference(room, id, muted); err != nil {
				return nil, conferenceErr(err)
			}
			return map[string]any{"room": room, "id": id, "muted": muted}, nil
		}
	}
	api.Handle("POST /api/v1/conferences/{room}/participants/{id}/mute", admin.Operator, true, mute(true))
	api.Handle("DELETE /api/v1/conferences/{room}/participants/{id}/mute", admin.Operator, true, mute(false))
}
