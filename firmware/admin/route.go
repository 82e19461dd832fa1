package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ExplainRequest is the body of POST /api/v1/route/explain: a request as
// it would arrive, for a dry run of routing.
type ExplainRequest struct {
	// SourceRealm is the realm the request arrives in. Required.
	SourceRealm string `json:"source_realm"`
	// SourceAddress is the sender's ip:port; it selects the source trunk.
	SourceAddress string `json:"source_address,omitempty"`
	// RURI is the Request-URI (sip:user@host); RURIUser/RURIHost override its parts.
	RURI     string `json:"ruri,omitempty"`
	RURIUser string `json:"ruri_user,omitempty"`
	RURIHost string `json:"ruri_host,omitempty"`
	// FromUser is the user part of From.
	FromUser string `json:"from_user,omitempty"`
	// Headers are request headers by name (for header matches).
	Headers map[string][]string `json:"headers,omitempty"`
	// Time is when the request arrives (RFC 3339). Default now.
	Time *time.Time `json:"time,omitempty"`
}

// Explanation is where a request would go, and why.
type Explanation struct {
	// Route is the route that matched ("" when none did).
	Route       string `json:"route"`
	SourceTrunk string `json:"source_trunk,omitempty"`
	Strategy    string `json:"strategy,omitempty"`
	Service     string `json:"service,omitempty"`
	Registered  string `json:"registered,omitempty"`
	// Reject is the final response the caller would get from the route itself.
	Reject *ExplainReject `json:"reject,omitempty"`
	// CalledUser and CallingUser are the numbers after the route's translation.
	CalledUser  string `json:"called_user"`
	CallingUser string `json:"calling_user"`
	// Candidates are the route's trunks in the order they would be tried.
	Candidates []ExplainCandidate `json:"candidates"`
	Failover   *ExplainFailover   `json:"failover,omitempty"`
	// Checked is every route looked at, and why it matched or not.
	Checked []ExplainCheck `json:"checked"`
	// Outcome says in one line what would happen.
	Outcome string `json:"outcome"`
}

// ExplainReject is a route's own final response.
type ExplainReject struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// ExplainCandidate is one trunk of the decision.
type ExplainCandidate struct {
	Trunk   string          `json:"trunk"`
	Usable  bool            `json:"usable"`
	HasCost bool            `json:"has_cost"`
	Cost    float64         `json:"cost,omitempty"`
	Prefix  string          `json:"rate_prefix,omitempty"`
	Weight  int             `json:"weight,omitempty"`
	Quality *ExplainQuality `json:"quality,omitempty"`
	Note    string          `json:"note,omitempty"`
	// Gateways in the order they would be tried (weighted order is drawn per call).
	Gateways []ExplainGateway `json:"gateways"`
}

// ExplainQuality is a trunk's measured quality over the route's window.
type ExplainQuality struct {
	Samples  int     `json:"samples"`
	MOS      float64 `json:"mos"`
	ASR      float64 `json:"asr_percent"`
	PDDMs    int64   `json:"pdd_ms"`
	Judged   bool    `json:"judged"`
	Degraded bool    `json:"degraded"`
}

// ExplainGateway is one gateway of a candidate trunk.
type ExplainGateway struct {
	Address   string `json:"address"`
	Transport string `json:"transport"`
	Priority  int    `json:"priority"`
	Weight    int    `json:"weight"`
	InService bool   `json:"in_service"`
	Health    string `json:"health"`
}

// ExplainFailover is the route's failover settings.
type ExplainFailover struct {
	// Codes are the route's own failover codes (empty: each trunk's).
	Codes            []int `json:"codes,omitempty"`
	MaxAttempts      int   `json:"max_attempts"`
	AttemptTimeoutMs int64 `json:"attempt_timeout_ms"`
	SetupTimeoutMs   int64 `json:"setup_timeout_ms"`
}

// ExplainCheck is one route looked at.
type ExplainCheck struct {
	Route   string `json:"route"`
	Matched bool   `json:"matched"`
	Why     string `json:"why"`
}

// Router is implemented by backends that can explain routing decisions.
type Router interface {
	Explain(r *http.Request, req ExplainRequest) (Explanation, error)
}

// explainRoutes adds POST /api/v1/route/explain when the backend can explain.
func (s *Server) explainRoutes() {
	rt, ok := s.cfg.Backend.(Router)
	if !ok {
		return
	}
	s.Handle("POST /api/v1/route/explain", ReadOnly, false, func(r *http.Request) (any, error) {
		var req ExplainRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("%w: body must be a JSON explain request: %w", ErrInvalid, err)
		}
		if req.SourceRealm == "" {
			return nil, fmt.Errorf("%w: source_realm is required", ErrInvalid)
		}
		return rt.Explain(r, req)
	})
}
