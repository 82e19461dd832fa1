package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/openborder/openborder/sbc/guard"
)

// Blacklist is the border defence's blacklist as the API drives it.
type Blacklist interface {
	Blacklist() []guard.Entry
	Block(ip netip.Addr, d time.Duration) (guard.Entry, error)
	Unblock(ip netip.Addr) error
}

// BlacklistRequest is the body of POST /api/v1/blacklist.
type BlacklistRequest struct {
	// Address is the source IP to block (IPv4 or IPv6).
	Address string `json:"address"`
	// Duration is how long, e.g. "30m"; empty or "0s" blocks until removed.
	Duration string `json:"duration,omitempty"`
}

// BlacklistList is the answer of GET /api/v1/blacklist.
type BlacklistList struct {
	Entries []guard.Entry `json:"entries"`
}

// AddBlacklistRoutes adds GET /api/v1/blacklist (read_only), and POST
// /api/v1/blacklist and DELETE /api/v1/blacklist/{address} (operator,
// audited).
func AddBlacklistRoutes(s *Server, bl Blacklist) {
	s.Handle("GET /api/v1/blacklist", ReadOnly, false, func(*http.Request) (any, error) {
		l := bl.Blacklist()
		if l == nil {
			l = []guard.Entry{}
		}
		return BlacklistList{Entries: l}, nil
	})
	s.Handle("POST /api/v1/blacklist", Operator, true, func(r *http.Request) (any, error) {
		var req BlacklistRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("%w: body must be {\"address\": \"192.0.2.1\", \"duration\": \"30m\"}: %v", ErrInvalid, err)
		}
		ip, err := netip.ParseAddr(req.Address)
		if err != nil {
			return nil, fmt.Errorf("%w: address %q is not an IP address", ErrInvalid, req.Address)
		}
		var d time.Duration
		if req.Duration != "" {
			if d, err = time.ParseDuration(req.Duration); err != nil || d < 0 {
				return nil, fmt.Errorf("%w: duration %q is not a duration like 30m (0s: until removed)", ErrInvalid, req.Duration)
			}
		}
		e, err := bl.Block(ip, d)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return e, nil
	})
	s.Handle("DELETE /api/v1/blacklist/{address}", Operator, true, func(r *http.Request) (any, error) {
		ip, err := netip.ParseAddr(r.PathValue("address"))
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not an IP address", ErrInvalid, r.PathValue("address"))
		}
		if err := bl.Unblock(ip); err != nil {
			if errors.Is(err, guard.ErrNotListed) {
				return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
			}
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return map[string]string{"removed": ip.String()}, nil
	})
}
