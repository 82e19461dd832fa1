package main

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/firmware/admin"
	"github.com/openborder/openborder/firmware/snmp"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc"
	"github.com/openborder/openborder/sbc/health"
)

var _ admin.Router = (*adminBackend)(nil)

// Explain answers POST /api/v1/route/explain as a dry run.
func (a *adminBackend) Explain(_ *http.Request, in admin.ExplainRequest) (admin.Explanation, error) {
	pol := a.b.Policy()
	if pol.Realm(in.SourceRealm) == nil {
		return admin.Explanation{}, fmt.Errorf("%w: unknown source_realm %q", admin.ErrInvalid, in.SourceRealm)
	}
	rq := policy.Request{SourceRealm: in.SourceRealm, FromUser: in.FromUser}
	if in.RURI != "" {
		u, h, err := splitURI(in.RURI)
		if err != nil {
			return admin.Explanation{}, fmt.Errorf("%w: ruri: %w", admin.ErrInvalid, err)
		}
		rq.RURIUser, rq.RURIHost = u, h
	}
	if in.RURIUser != "" {
		rq.RURIUser = in.RURIUser
	}
	if in.RURIHost != "" {
		rq.RURIHost = in.RURIHost
	}
	var out admin.Explanation
	if in.SourceAddress != "" {
		ap, err := netip.ParseAddrPort(in.SourceAddress)
		if err != nil {
			return admin.Explanation{}, fmt.Errorf("%w: source_address %q is not ip:port", admin.ErrInvalid, in.SourceAddress)
		}
		if t := pol.TrunkByAddr(in.SourceRealm, ap); t != nil {
			rq.SourceTrunk = t.Name
			out.SourceTrunk = t.Name
		}
	}
	if len(in.Headers) > 0 {
		hs := in.Headers
		rq.Headers = func(name string) []string {
			for k, v := range hs {
				if strings.EqualFold(k, name) {
					return v
				}
			}
			return nil
		}
	}
	rq.Time = time.Now()
	if in.Time != nil {
		rq.Time = *in.Time
	}
	d, gws := a.b.Explain(rq)
	out.Route, out.Strategy, out.Service, out.Registered = d.Route, d.Strategy, d.Service, d.Registered
	out.CalledUser, out.CallingUser = d.CalledUser, d.CallingUser
	if d.Reject != nil {
		out.Reject = &admin.ExplainReject{Code: d.Reject.Code, Reason: d.Reject.Reason}
	}
	if f := d.Failover; f != nil {
		out.Failover = &admin.ExplainFailover{Codes: f.Codes(), MaxAttempts: f.MaxAttempts,
			AttemptTimeoutMs: f.AttemptTimeout.Milliseconds(), SetupTimeoutMs: f.SetupTimeout.Milliseconds()}
	}
	out.Candidates = []admin.ExplainCandidate{}
	for _, c := range d.Candidates {
		ec := admin.ExplainCandidate{Trunk: c.Name, Usable: c.Usable, HasCost: c.HasCost, Cost: c.Cost, Prefix: c.Prefix,
			Weight: c.Weight, Note: c.Note, Gateways: []admin.ExplainGateway{}}
		if q := c.Quality; q != nil {
			ec.Quality = &admin.ExplainQuality{Samples: q.Samples, MOS: q.MOS, ASR: q.ASR, PDDMs: q.PDD.Milliseconds(),
				Judged: q.Judged, Degraded: q.Degraded}
		}
		for _, g := range gws[c.Name] {
			ec.Gateways = append(ec.Gateways, admin.ExplainGateway(g))
		}
		out.Candidates = append(out.Candidates, ec)
	}
	out.Checked = []admin.ExplainCheck{}
	for _, c := range d.Checked {
		out.Checked = append(out.Checked, admin.ExplainCheck{Route: c.Route, Matched: c.Matched, Why: c.Why})
	}
	out.Outcome = outcome(d)
	return out, nil
}

// outcome says in one line what would happen to the request.
func outcome(d policy.Decision) string {
	switch {
	case d.Reject != nil && d.Route == "":
		return fmt.Sprintf("no route matches: %d %s", d.Reject.Code, d.Reject.Reason)
	case d.Reject != nil:
		return fmt.Sprintf("rejected by route %s: %d %s", d.Route, d.Reject.Code, d.Reject.Reason)
	case d.Service != "":
		return "answered by the built-in " + d.Service + " service"
	}
	var names []string
	for _, t := range d.Trunks {
		names = append(names, t.Name)
	}
	switch {
	case len(names) > 0 && d.Registered != "":
		return fmt.Sprintf("registered users of %s, then trunks %s", d.Registered, strings.Join(names, ", "))
	case len(names) > 0:
		return "trunks in order: " + strings.Join(names, ", ")
	case d.Registered != "":
		return "registered users of " + d.Registered
	case len(d.Candidates) > 0:
		return "503: no trunk of the route is usable"
	}
	return "404: the route has no target"
}

// splitURI takes the user and host of a sip: or sips: URI.
func splitURI(s string) (user, host string, err error) {
	rest, ok := strings.CutPrefix(s, "sip:")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "sips:"); !ok {
			return "", "", fmt.Errorf("%q is not a sip: or sips: URI", s)
		}
	}
	rest, _, _ = strings.Cut(rest, ";")
	rest, _, _ = strings.Cut(rest, "?")
	if u, h, found := strings.Cut(rest, "@"); found {
		user, rest = u, h
	}
	host = rest
	if strings.HasPrefix(host, "[") {
		if i := strings.Index(host, "]"); i > 0 {
			host = host[1:i]
		}
	} else if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	if host == "" {
		return "", "", fmt.Errorf("%q has no host", s)
	}
	return user, host, nil
}

// gatewayHealth fills the admin view of a trunk's gateways.
func gatewayHealth(b *sbc.B2BUA, t *policy.Trunk, at *admin.Trunk) {
	states := map[netip.AddrPort]health.Status{}
	for _, st := range b.GatewayHealth() {
		if st.Trunk == t.Name {
			states[st.Addr] = st
		}
	}
	for _, g := range t.Gateways {
		ag := admin.Gateway{Address: g.Addr.String(), Transport: g.Transport, Priority: g.Priority, Weight: g.Weight,
			Health: "unchecked", InService: true}
		if st, ok := states[g.Addr]; ok {
			ag.Health = st.State.String()
			ag.InService = st.State != health.Down
			if !st.Since.IsZero() {
				since := st.Since.UTC()
				ag.Since = &since
			}
			if !st.LastProbe.IsZero() {
				lp := st.LastProbe.UTC()
				ag.LastProbe, ag.LastResult = &lp, st.LastResult
			}
			ag.RTTMs = float64(st.RTT.Microseconds()) / 1000
		}
		at.Available = at.Available || ag.InService
		at.Gateways = append(at.Gateways, ag)
	}
}

// trunkNotifier sends obTrunkDown/obTrunkUp when a trunk loses its last
// gateway in service or gets one back.
type trunkNotifier struct {
	agent atomic.Pointer[snmp.Agent]
	b     atomic.Pointer[sbc.B2BUA]
}

func (n *trunkNotifier) changed(ch health.Change) {
	b, agent := n.b.Load(), n.agent.Load()
	if b == nil || agent == nil {
		return
	}
	var total, up uint32
	for _, st := range b.GatewayHealth() {
		if st.Trunk == ch.Trunk {
			total++
			if st.State != health.Down {
				up++
			}
		}
	}
	var trap snmp.Trap
	switch {
	case ch.To == health.Down && up == 0:
		trap = snmp.TrunkDown{Trunk: ch.Trunk, Gateways: total, GatewaysUp: up, Reason: "gateway " + ch.Addr.String() + ": " + ch.Reason}
	case ch.From == health.Down && ch.To == health.Up && up == 1:
		trap = snmp.TrunkUp{Trunk: ch.Trunk, Gateways: total, GatewaysUp: up, Reason: "gateway " + ch.Addr.String() + " answers again"}
	default:
		return
	}
	// On the probing goroutine, bounded: the next probe waits at most 2s.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = agent.Notify(ctx, trap)
}
