package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/firmware/capture"
	"github.com/openborder/openborder/sbc"
)

// captureRequest is the body of POST /api/v1/captures.
type captureRequest struct {
	// Filter is call:<Call-ID or sbcd id>, number:<user> or addr:<IP[/bits]>.
	Filter   string `json:"filter"`
	Duration string `json:"duration"`
	MaxBytes int64  `json:"max_bytes"`
}

// captureErr maps capture errors onto the API's statuses.
func captureErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, capture.ErrNotFound):
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	case errors.Is(err, capture.ErrNoDir):
		return fmt.Errorf("%w: captures need capture.dir in the policy", admin.ErrUnavailable)
	case errors.Is(err, capture.ErrFilter), errors.Is(err, capture.ErrConfig), errors.Is(err, capture.ErrTooMany), errors.Is(err, capture.ErrRunning), errors.Is(err, capture.ErrRingOff):
		return fmt.Errorf("%w: %w", admin.ErrInvalid, err)
	}
	return err
}

// addCaptureRoutes adds the capture endpoints to the admin API.
func addCaptureRoutes(api *admin.Server, s *captureSink, b *sbc.B2BUA) {
	off := func() error {
		if s == nil || s.cap == nil {
			return fmt.Errorf("%w: captures need capture.dir in the policy", admin.ErrUnavailable)
		}
		return nil
	}
	api.Handle("POST /api/v1/captures", admin.Operator, true, func(r *http.Request) (any, error) {
		if err := off(); err != nil {
			return nil, err
		}
		var req captureRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("%w: body must be {\"filter\": ..., \"duration\": \"60s\", \"max_bytes\": N}: %v", admin.ErrInvalid, err)
		}
		f, err := capture.ParseFilter(req.Filter)
		if err != nil {
			return nil, captureErr(err)
		}
		var lim capture.Limits
		if req.Duration != "" {
			d, err := time.ParseDuration(req.Duration)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: duration %q is not a positive duration like 90s", admin.ErrInvalid, req.Duration)
			}
			lim.Duration = d
		}
		lim.Bytes = req.MaxBytes
		id, err := s.cap.Start(r.Context(), f, lim)
		if err != nil {
			return nil, captureErr(err)
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		s.startFor(b.Calls(ctx))
		cancel()
		return map[string]string{"id": id, "filter": f.String()}, nil
	})
	api.Handle("GET /api/v1/captures", admin.ReadOnly, false, func(*http.Request) (any, error) {
		if err := off(); err != nil {
			return nil, err
		}
		list, err := s.cap.List()
		return list, captureErr(err)
	})
	api.Handle("GET /api/v1/captures/stats", admin.ReadOnly, false, func(*http.Request) (any, error) {
		if err := off(); err != nil {
			return nil, err
		}
		return s.cap.Stats(), nil
	})
	api.Handle("DELETE /api/v1/captures/{id}", admin.Operator, true, func(r *http.Request) (any, error) {
		if err := off(); err != nil {
			return nil, err
		}
		info, err := s.cap.Stop(r.Context(), r.PathValue("id"))
		return info, captureErr(err)
	})
	api.Handle("POST /api/v1/captures/ring", admin.Operator, true, func(r *http.Request) (any, error) {
		if err := off(); err != nil {
			return nil, err
		}
		info, err := s.cap.SaveRing(r.Context())
		return info, captureErr(err)
	})
	api.HandleRaw("GET /api/v1/captures/{id}/file", admin.Operator, func(w http.ResponseWriter, r *http.Request) {
		if err := off(); err != nil {
			admin.WriteError(w, err)
			return
		}
		f, info, err := s.cap.Open(r.PathValue("id"))
		if err != nil {
			admin.WriteError(w, captureErr(err))
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcapng")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", info.ID+".pcapng"))
		_, _ = io.Copy(w, f)
	})
}
