package admin

import (
	"fmt"
	"io"
	"net/http"
)

// routes adds the standard endpoints.
func (s *Server) routes() {
	b := s.cfg.Backend
	s.Handle("GET /api/v1/status", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Status(r.Context()), nil
	})
	s.Handle("GET /api/v1/calls", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Calls(r.Context()), nil
	})
	s.Handle("GET /api/v1/calls/{id}", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Call(r.Context(), r.PathValue("id"))
	})
	s.Handle("DELETE /api/v1/calls/{id}", Operator, true, func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		if err := b.Hangup(r.Context(), id); err != nil {
			return nil, err
		}
		return map[string]string{"id": id, "result": "hanging up"}, nil
	})
	s.Handle("GET /api/v1/registrations", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Registrations(r.Context()), nil
	})
	s.Handle("GET /api/v1/trunks", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Trunks(r.Context()), nil
	})
	s.Handle("GET /api/v1/policy", ReadOnly, false, func(r *http.Request) (any, error) {
		doc, err := b.Policy(r.Context())
		if err != nil {
			return nil, err
		}
		return map[string]string{"yaml": string(doc)}, nil
	})
	s.Handle("POST /api/v1/policy/validate", ReadOnly, false, func(r *http.Request) (any, error) {
		doc, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("reading the policy: %w", err)
		}
		if len(doc) == 0 {
			return nil, fmt.Errorf("%w: empty body: send the policy YAML as the request body", ErrInvalid)
		}
		if err := b.Validate(r.Context(), doc); err != nil {
			return nil, err
		}
		return map[string]any{"valid": true}, nil
	})
	s.Handle("POST /api/v1/policy/reload", Operator, true, func(r *http.Request) (any, error) {
		hash, err := b.Reload(r.Context())
		if err != nil {
			return nil, err
		}
		return map[string]string{"result": "reloaded", "hash": hash}, nil
	})
	s.Handle("GET /api/v1/metrics/summary", ReadOnly, false, func(r *http.Request) (any, error) {
		return b.Summary(r.Context()), nil
	})
	s.explainRoutes()
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/admin-api.yaml)")
	})
}
