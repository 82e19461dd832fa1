package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds request bodies (policy documents).
const maxBody = 4 << 20

// HandlerFunc serves one endpoint: it returns the JSON body of a 200, or
// an error mapped to a status (see Backend).
type HandlerFunc func(r *http.Request) (any, error)

// Config configures a Server.
type Config struct {
	Backend Backend
	// Audit receives one JSON line per change (may be nil). If it is an
	// *os.File it is synced after each line.
	Audit  io.Writer
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Server is the admin API's HTTP handler.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	audit *auditLog
	log   *slog.Logger
}

// New builds the API with its standard endpoints.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, audit: &auditLog{w: cfg.Audit}}
	s.routes()
	return s
}

// Handle adds an endpoint. pattern is a net/http pattern with method
// ("GET /api/v1/calls/{id}"); need is the least role allowed; change marks
// endpoints that alter state (audited).
func (s *Server) Handle(pattern string, need Role, change bool, h HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		tok, status, reason := s.authorize(r, need)
		if status != 0 {
			writeError(w, status, reason)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		body, err := h(r)
		code := http.StatusOK
		if err != nil {
			code = statusOf(err)
		}
		if change {
			s.audit.record(s.cfg.Now(), tok, r, code, err)
			s.log.Info("admin change", "token", tok.Name, "action", r.Method+" "+r.URL.Path, "status", code)
		}
		if err != nil {
			writeErr(w, code, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// HandleRaw adds an endpoint that writes its own response (downloads),
// behind the same authorisation as Handle. Raw endpoints are not audited.
func (s *Server) HandleRaw(pattern string, need Role, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if _, status, reason := s.authorize(r, need); status != 0 {
			writeError(w, status, reason)
			return
		}
		h(w, r)
	})
}

// WriteError answers a raw endpoint's failure in the API's JSON form.
func WriteError(w http.ResponseWriter, err error) { writeErr(w, statusOf(err), err) }

// ServeHTTP serves the API (everything under /api/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authorize finds the request's token and checks its role.
func (s *Server) authorize(r *http.Request, need Role) (Token, int, string) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return Token{}, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)"
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(raw)))
	tokens := s.cfg.Backend.Tokens()
	if len(tokens) == 0 {
		return Token{}, http.StatusUnauthorized, "no admin tokens are configured (admin.tokens in the policy)"
	}
	var found *Token
	for i := range tokens {
		// Compare against every token so timing tells nothing.
		if subtle.ConstantTimeCompare(sum[:], tokens[i].SHA256[:]) == 1 {
			found = &tokens[i]
		}
	}
	if found == nil {
		return Token{}, http.StatusUnauthorized, "unknown token"
	}
	if !allowed(found.Role, need) {
		return *found, http.StatusForbidden, "role " + string(found.Role) + " may not do this (needs " + string(need) + ")"
	}
	return *found, 0, ""
}

// allowed tells whether role has may use an endpoint that needs need.
// Lawful interception is separate from the operating roles both ways.
func allowed(has, need Role) bool {
	switch need {
	case ReadOnly:
		return has == ReadOnly || has == Operator
	case Operator:
		return has == Operator
	case LawfulIntercept:
		return has == LawfulIntercept
	}
	return false
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// errorBody is every error's JSON.
type errorBody struct {
	Error    string   `json:"error"`
	Reason   string   `json:"reason"`
	Problems []string `json:"problems,omitempty"`
}

func writeErr(w http.ResponseWriter, code int, err error) {
	body := errorBody{Error: http.StatusText(code), Reason: err.Error()}
	var p Problems
	if errors.As(err, &p) {
		body.Problems = p
	}
	writeJSON(w, code, body)
}

func writeError(w http.ResponseWriter, code int, reason string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sbcd"`)
	}
	writeJSON(w, code, errorBody{Error: http.StatusText(code), Reason: reason})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
