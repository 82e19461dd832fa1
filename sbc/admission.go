package sbc

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc/cac"
)

// preemptReason is the Reason (RFC 4411) of the BYE that ends a call to
// make room for an emergency call.
const preemptReason = `preemption ;cause=3 ;text="Generic Preemption"`

// FraudBlock is the event of an account blocked by a toll-fraud rule.
type FraudBlock struct {
	// Realm is the caller's realm; Account the user blocked in it.
	Realm, Account string
	// Rule is the fraud rule's name; Limit the limit breached
	// (calls_per_hour, max_calls or max_cost_per_hour).
	Rule, Limit string
	// Until is when the block ends.
	Until time.Time
}

// admission is what a call holds from admission control and fraud rules.
type admission struct {
	// account is the digest user the call authenticated as (empty: none).
	account string
	// emergency calls bypass limits and fraud rules and may pre-empt.
	emergency bool
	source    *cac.Ticket // caller side: realm, source trunk, account
	target    *cac.Ticket // the current attempt's realm and trunk
	fraud     *cac.FraudTicket
	// byeReason, when set, goes into the BYEs sbcd sends at teardown.
	byeReason string
}

// release gives back every count the call holds.
func (a *admission) release() {
	a.source.Release()
	a.target.Release()
	a.fraud.End()
}

func realmLimit(name string, l policy.LimitsConfig) cac.Limit {
	return cac.Limit{Key: "realm:" + name, MaxCalls: l.MaxCalls, MaxCPS: l.MaxCPS}
}

func trunkLimit(t *policy.Trunk) cac.Limit {
	return cac.Limit{Key: "trunk:" + t.Name, MaxCalls: t.Limits.MaxCalls, MaxCPS: t.Limits.MaxCPS}
}

// fraudAccount is who fraud rules count a call against: the authenticated
// account, else the caller's From user, within the caller's realm.
func (c *call) fraudAccount() string {
	a := c.legs[SideA]
	if c.adm.account != "" {
		return a.realm.name + ":" + c.adm.account
	}
	return a.realm.name + ":" + c.callerIn
}

// admitSource applies the caller side's limits (realm, source trunk,
// account) and the fraud rules to a new INVITE. Emergency calls are
// counted but never refused.
func (c *call) admitSource(pr *policy.Realm, srcTrunk *policy.Trunk) *Rejection {
	if c.method != sip.INVITE || pr == nil {
		return nil
	}
	c.adm.emergency = pr.IsEmergency(c.calleeIn)
	limits := make([]cac.Limit, 0, 3)
	limits = append(limits, realmLimit(pr.Name, pr.Limits))
	if srcTrunk != nil {
		limits = append(limits, trunkLimit(srcTrunk))
	}
	if acc := pr.Auth.Account(c.adm.account); acc != nil {
		limits = append(limits, cac.Limit{Key: "account:" + pr.Name + ":" + acc.Name, MaxCalls: acc.MaxCalls, MaxCPS: acc.MaxCPS})
	}
	t, ref := c.b.admission.Admit(limits, c.adm.emergency)
	if ref != nil {
		return cacRejection(ref)
	}
	c.adm.source = t
	if c.adm.emergency {
		c.log = c.log.With("emergency", true)
		return nil
	}
	var rule *cac.Rule
	if fr := c.pol.FraudRule(c.calleeIn); fr != nil {
		rule = &cac.Rule{Name: fr.Name, CallsPerHour: fr.CallsPerHour, MaxCalls: fr.MaxCalls,
			CostPerMinute: fr.CostPerMinute, MaxCostPerHour: fr.MaxCostPerHour}
	}
	ft, br := c.b.fraud.Check(c.fraudAccount(), rule, c.pol.Config().Fraud.BlockTime)
	if br != nil {
		if errors.Is(br, cac.ErrFraud) {
			c.log.Warn("toll-fraud rule breached: account blocked", "account", br.Account, "rule", br.Rule,
				"limit", br.Limit, "until", br.Until.UTC().Format(time.RFC3339))
			c.b.obs.Rejected(pr.Name, c.method, "fraud_breach")
			if c.b.onFraud != nil {
				acc := strings.TrimPrefix(br.Account, pr.Name+":")
				c.b.onFraud(FraudBlock{Realm: pr.Name, Account: acc, Rule: br.Rule, Limit: br.Limit, Until: br.Until})
			}
		}
		return &Rejection{Code: 403, Reason: "Forbidden", Label: "fraud_blocked", Err: br,
			SIPReason: `SIP ;cause=403 ;text="Blocked by fraud rule ` + br.Rule + " (" + br.Limit + `)"`}
	}
	c.adm.fraud = ft
	return nil
}

// admitTarget applies the limits of the realm and trunk an attempt goes
// to, releasing those of the previous attempt. A full trunk refuses the
// attempt (the next target is tried) unless the call is an emergency
// call: then the trunk's newest ordinary call is ended to make room.
func (c *call) admitTarget(t target) *Rejection {
	c.adm.target.Release()
	c.adm.target = nil
	if c.method != sip.INVITE {
		return nil
	}
	limits := make([]cac.Limit, 0, 2)
	if t.realm.name != c.legs[SideA].realm.name {
		if pr := c.pol.Realm(t.realm.name); pr != nil {
			limits = append(limits, realmLimit(pr.Name, pr.Limits))
		}
	}
	if t.trunk != nil {
		limits = append(limits, trunkLimit(t.trunk))
		if c.adm.emergency && c.b.admission.Full(trunkLimit(t.trunk)) {
			c.b.preempt(t.trunk.Name, c)
		}
	}
	tk, ref := c.b.admission.Admit(limits, c.adm.emergency)
	if ref != nil {
		return cacRejection(ref)
	}
	c.adm.target = tk
	return nil
}

// preempt ends the most recently started non-emergency call on a trunk,
// with a Reason header saying why.
func (b *B2BUA) preempt(trunk string, by *call) {
	var victim *call
	for _, c := range b.calls.all() {
		if t, _ := c.preemptible.Load().(string); c == by || t != trunk {
			continue
		}
		if victim == nil || c.start.After(victim.start) {
			victim = c
		}
	}
	if victim == nil {
		return
	}
	victim.preemptible.Store("")
	b.obs.Rejected(b.callRealm(victim), sip.INVITE, "preempted")
	by.log.Warn("pre-empting a call for an emergency call", "trunk", trunk, "victim", victim.id)
	victim.post(evHangup{cause: "preempted"})
}

// callRealm is the caller's realm of a call (read-only after admission).
func (b *B2BUA) callRealm(c *call) string {
	if a := c.legs[SideA]; a != nil {
		return a.realm.name
	}
	return ""
}

// cacRejection maps an admission refusal onto 503 with Retry-After.
func cacRejection(r *cac.Refusal) *Rejection {
	label := "cac_calls"
	if errors.Is(r, cac.ErrRate) {
		label = "cac_rate"
	}
	secs := max(1, int(r.RetryAfter/time.Second))
	return &Rejection{Code: 503, Reason: "Service Unavailable", Label: label, RetryAfter: secs, Err: r,
		SIPReason: `SIP ;cause=503 ;text="Call limit of ` + r.Key + ` reached (` + strconv.Itoa(secs) + `s)"`}
}
