package admin

import (
	"context"
	"time"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	ReadOnly        Role = "read_only"
	Operator        Role = "operator"
	LawfulIntercept Role = "lawful_intercept"
)

// Token is a credential: the SHA-256 of the bearer token and its role.
type Token struct {
	Name   string
	Role   Role
	SHA256 [32]byte
}

// Status is the daemon's summary.
type Status struct {
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	PolicyHash    string    `json:"policy_hash"`
	PolicyFile    string    `json:"policy_file"`
	Draining      bool      `json:"draining"`
	ActiveCalls   int       `json:"active_calls"`
	Registrations int       `json:"registrations"`
	MediaStreams  int       `json:"media_streams"`
	Realms        []string  `json:"realms"`
}

// Trunk is a trunk with its gateways and live figures.
type Trunk struct {
	Name        string `json:"name"`
	Realm       string `json:"realm"`
	ActiveCalls int    `json:"active_calls"`
	// Available is false when no gateway of the trunk is in service:
	// routing skips the trunk.
	Available bool      `json:"available"`
	Gateways  []Gateway `json:"gateways"`
}

// Gateway is one address of a trunk. Health is "up" or "down" from the
// trunk's OPTIONS health check, "unknown" before the first probe settles
// it, and "unchecked" when the trunk has no health check.
type Gateway struct {
	Address   string `json:"address"`
	Transport string `json:"transport"`
	Priority  int    `json:"priority"`
	Weight    int    `json:"weight"`
	Health    string `json:"health"`
	// InService is false when routing skips the gateway (health down).
	InService bool `json:"in_service"`
	// Since is when the gateway entered its health state.
	Since *time.Time `json:"since,omitempty"`
	// LastProbe, LastResult and RTTMs describe the latest OPTIONS probe.
	LastProbe  *time.Time `json:"last_probe,omitempty"`
	LastResult string     `json:"last_result,omitempty"`
	RTTMs      float64    `json:"rtt_ms,omitempty"`
}

// Summary is the metrics summary endpoint's body.
type Summary struct {
	ActiveCalls   int               `json:"active_calls"`
	CallsByResult map[string]uint64 `json:"calls_by_outcome"`
	Rejections    map[string]uint64 `json:"rejections_by_reason"`
	MediaPackets  uint64            `json:"media_packets_in"`
	MediaLost     uint64            `json:"media_packets_lost"`
	PortsInUse    map[string]int    `json:"port_pairs_in_use"`
}

// Backend is what the daemon offers the API. Call details are JSON-ready
// values (the API does not interpret them). Errors wrap ErrNotFound,
// ErrInvalid or ErrUnavailable to pick the status; any other error is a 500.
type Backend interface {
	Tokens() []Token
	Status(ctx context.Context) Status
	Calls(ctx context.Context) any
	Call(ctx context.Context, id string) (any, error)
	Hangup(ctx context.Context, id string) error
	Registrations(ctx context.Context) any
	Trunks(ctx context.Context) []Trunk
	// Policy returns the running policy file as YAML.
	Policy(ctx context.Context) ([]byte, error)
	// Validate checks a policy document without applying it (Problems).
	Validate(ctx context.Context, doc []byte) error
	// Reload reads the policy file again and applies it, returning its hash.
	Reload(ctx context.Context) (string, error)
	Summary(ctx context.Context) Summary
}
