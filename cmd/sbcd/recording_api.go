package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/rtpengine"
)

// recordingErr maps engine recording errors onto the API's statuses.
func recordingErr(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rtpengine.ErrNotFound):
		return fmt.Errorf("call %q has no media here: %w", id, admin.ErrNotFound)
	case errors.Is(err, rtpengine.ErrRecording):
		return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
	}
	return err
}

// addRecordingRoutes adds POST and DELETE /api/v1/calls/{id}/recording.
func addRecordingRoutes(api *admin.Server, a *adminBackend) {
	dir := a.b.Policy().Config().Media.Recording.Directory
	api.Handle("POST /api/v1/calls/{id}/recording", admin.Operator, true, func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		if dir == "" {
			return nil, fmt.Errorf("%w: recording needs media.recording.directory in the policy", admin.ErrUnavailable)
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		ci, ok := a.b.Call(ctx, id)
		cancel()
		if !ok {
			return nil, fmt.Errorf("call %q: %w", id, admin.ErrNotFound)
		}
		labels := map[string]map[string]string{
			legTag[0]: {"caller": ci.Caller},
			legTag[1]: {"callee": ci.Callee},
		}
		for _, l := range ci.Legs {
			tag := legTag[0]
			if l.Side == "B" {
				tag = legTag[1]
			}
			labels[tag]["realm"] = l.Realm
			if l.Trunk != "" {
				labels[tag]["trunk"] = l.Trunk
			}
		}
		if err := a.e.StartRecording(id, rtpengine.RecordOptions{Labels: labels}); err != nil {
			return nil, recordingErr(id, err)
		}
		return admin.Recording{CallID: id, State: "recording", Directory: dir}, nil
	})
	api.Handle("DELETE /api/v1/calls/{id}/recording", admin.Operator, true, func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		meta, err := a.e.StopRecording(id)
		if err != nil {
			return nil, recordingErr(id, err)
		}
		return admin.Recording{CallID: id, State: "stopped", Directory: dir, Files: meta.Files,
			Seconds: meta.Seconds, Dropped: meta.Dropped}, nil
	})
}
