package sbc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc/health"
)

// startHealth starts probing the gateways of every trunk with a health check.
func (b *B2BUA) startHealth(pol *policy.Set) {
	b.health = health.NewMonitor(b.probe, b.onHealth, b.log.With("component", "health"))
	b.health.Update(health.Targets(pol))
}

// probe sends one OPTIONS to a gateway from its realm's own listener and
// waits for the final answer or ctx's end.
func (b *B2BUA) probe(ctx context.Context, t health.Target) (int, error) {
	r := b.realms[t.Realm]
	if r == nil {
		return 0, fmt.Errorf("realm %s: %w", t.Realm, ErrNoRealm)
	}
	tp := r.transportFor(t.Transport)
	uri := sip.Uri{Scheme: "sip", Host: t.Addr.Addr().String(), Port: int(t.Addr.Port())}
	if tp != "UDP" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", strings.ToLower(tp))
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.AppendHeader(r.via(tp, sip.GenerateBranch()))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "sbc", Host: r.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: uri, Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.AppendHeader(r.contact(tp))
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	req.SetBody(nil)
	req.SetTransport(tp)
	req.Laddr = r.laddr(tp)
	req.SetDestination(t.Addr.String())
	r.observe(Out, req)
	tx, err := r.txl.Request(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("send OPTIONS: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res != nil && res.StatusCode >= 200 {
				return res.StatusCode, nil
			}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return 0, err
			}
			return 0, context.DeadlineExceeded
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-b.done:
			return 0, ErrClosed
		}
	}
}

// live is what routing sees of the running system: gateway health and
// trunk quality. For an emergency call every trunk is available: its
// gateways that health checks mark down are still tried, last.
type live struct {
	b         *B2BUA
	emergency bool
}

// TrunkAvailable reports whether any gateway of t is in service (always,
// for an emergency call).
func (l live) TrunkAvailable(t *policy.Trunk) bool {
	if l.emergency || t.HealthCheck == nil || l.b.health == nil {
		return true
	}
	for _, g := range t.Gateways {
		if l.b.health.InService(t.Realm.Name, g.Addr) {
			return true
		}
	}
	return false
}

// TrunkQuality judges t's recent calls for a route.
func (l live) TrunkQuality(route string, t *policy.Trunk, q policy.QualityConfig) policy.TrunkQuality {
	return l.b.quality.Judge(route, t.Name, q)
}

// gatewayInService reports whether a gateway of a trunk may be tried.
func (b *B2BUA) gatewayInService(t *policy.Trunk, addr netip.AddrPort) bool {
	return t.HealthCheck == nil || b.health == nil || b.health.InService(t.Realm.Name, addr)
}

// decide routes a request with the live view; rnd may be nil.
func (b *B2BUA) decide(pol *policy.Set, r policy.Request, rnd *rand.Rand) policy.Decision {
	return pol.Decide(r, live{b: b}, rnd)
}

// Explain answers where a request would go and why, as a dry run against
// the running policy, gateway health and trunk quality. Nothing is sent.
// The gateways each usable trunk would be tried at, in order, are in
// Gateways, keyed by trunk name.
func (b *B2BUA) Explain(r policy.Request) (policy.Decision, map[string][]GatewayChoice) {
	r.Explain = true
	d := b.decide(b.pol.Load(), r, nil)
	gws := map[string][]GatewayChoice{}
	for _, c := range d.Candidates {
		for _, g := range c.Trunk.Candidates(nil) {
			gc := GatewayChoice{Address: g.Addr.String(), Transport: g.Transport, Priority: g.Priority, Weight: g.Weight,
				InService: b.gatewayInService(c.Trunk, g.Addr), Health: "unchecked"}
			if b.health != nil && c.Trunk.HealthCheck != nil {
				if st, ok := b.health.State(c.Trunk.Realm.Name, g.Addr); ok {
					gc.Health = st.State.String()
				}
			}
			gws[c.Name] = append(gws[c.Name], gc)
		}
	}
	return d, gws
}

// GatewayChoice is a gateway of an explained decision.
type GatewayChoice struct {
	Address   string `json:"address"`
	Transport string `json:"transport"`
	Priority  int    `json:"priority"`
	Weight    int    `json:"weight"`
	InService bool   `json:"in_service"`
	Health    string `json:"health"`
}

// GatewayHealth returns every probed gateway's state.
func (b *B2BUA) GatewayHealth() []health.Status {
	if b.health == nil {
		return nil
	}
	return b.health.Snapshot()
}

// TrunkQuality judges a trunk's recent calls under q for the admin API.
func (b *B2BUA) TrunkQuality(route, trunk string, q policy.QualityConfig) policy.TrunkQuality {
	return b.quality.Judge(route, trunk, q)
}

// recordQuality feeds a finished INVITE's attempts to the trunk quality
// window: each attempt over a trunk is one sample; the last carries the
// call's answer, media MOS and post-dial delay. Attempts the caller
// cancelled say nothing about the trunk and are left out.
func (b *B2BUA) recordQuality(rec *CallRecord) {
	if rec.Method != string(sip.INVITE) {
		return
	}
	n := len(rec.Attempts)
	for i, at := range rec.Attempts {
		if at.Trunk == "" {
			continue
		}
		last := i == n-1
		if last && (rec.Cause == "cancelled" || at.Status == 487) && rec.Answered.IsZero() {
			continue
		}
		s := health.Sample{At: at.Start}
		if last {
			s.Answered = !rec.Answered.IsZero()
			if s.Answered {
				s.MOS = rec.Media.MOS
			}
			switch {
			case !rec.Ringing.IsZero() && rec.Ringing.After(at.Start):
				s.PDD = rec.Ringing.Sub(at.Start)
			case s.Answered:
				s.PDD = rec.Answered.Sub(at.Start)
			}
		}
		b.quality.Record(at.Trunk, s)
	}
}

// requestHeaders lets routes match on the request's headers.
func requestHeaders(req *sip.Request) func(string) []string {
	return func(name string) []string {
		var out []string
		for _, h := range req.GetHeaders(name) {
			out = append(out, h.Value())
		}
		return out
	}
}

// reasonHeader is an RFC 3326 Reason header value for a SIP status.
func reasonHeader(code int, text string) string {
	if text == "" {
		text = reasonPhrase(code)
	}
	return fmt.Sprintf("SIP;cause=%d;text=%q", code, text)
}

// setupDeadline is the setup_timeout timer's duration (0: none).
func (c *call) setupDeadline() time.Duration {
	if c.failover == nil {
		return 0
	}
	return c.failover.SetupTimeout
}
