package cac

import (
	"fmt"
	"sync"
	"time"
)

// Rule is a toll-fraud rule for one destination prefix. Zero limits are unlimited.
type Rule struct {
	Name           string
	CallsPerHour   int
	MaxCalls       int
	CostPerMinute  float64
	MaxCostPerHour float64
}

// Breach describes a refused call: the rule and limit breached, or the
// block still in force. It wraps ErrFraud or ErrBlocked.
type Breach struct {
	Account string
	Rule    string
	Limit   string // calls_per_hour, max_calls, max_cost_per_hour
	Until   time.Time
	Err     error
}

func (b *Breach) Error() string {
	return fmt.Sprintf("%v: account %q, rule %s (%s) until %s", b.Err, b.Account, b.Rule, b.Limit, b.Until.UTC().Format(time.RFC3339))
}
func (b *Breach) Unwrap() error { return b.Err }

// Fraud tracks calls per account and rule. Use NewFraud.
type Fraud struct {
	now func() time.Time
	mu  sync.Mutex
	use map[fraudKey]*usage
	// blocked accounts until a time, with the breach that blocked them.
	blocked map[string]*Breach
}

type fraudKey struct{ account, rule string }

type usage struct {
	starts []time.Time // call starts in the last hour, oldest first
	active map[*FraudTicket]struct{}
	spent  []spend // cost of calls ended in the last hour
}

type spend struct {
	at   time.Time
	cost float64
}

// FraudTicket is one admitted call's entry; tell it when the call is
// answered and when it ends.
type FraudTicket struct {
	f        *Fraud
	key      fraudKey
	rate     float64
	answered time.Time
	done     bool
}

// NewFraud returns an empty tracker; now is the clock (nil: time.Now).
func NewFraud(now func() time.Time) *Fraud {
	if now == nil {
		now = time.Now
	}
	return &Fraud{now: now, use: make(map[fraudKey]*usage), blocked: make(map[string]*Breach)}
}

// Blocked returns the breach that blocks account, or nil.
func (f *Fraud) Blocked(account string) *Breach {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blockedLocked(account, f.now())
}

func (f *Fraud) blockedLocked(account string, now time.Time) *Breach {
	b := f.blocked[account]
	if b == nil {
		return nil
	}
	if !now.Before(b.Until) {
		delete(f.blocked, account)
		return nil
	}
	out := *b
	out.Err = ErrBlocked
	return &out
}

// Unblock lifts a block (operator action). It reports whether one was lifted.
func (f *Fraud) Unblock(account string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.blocked[account]
	delete(f.blocked, account)
	return ok
}

// Check admits a call of account to a destination covered by rule r (nil:
// only the block is checked). A call that would breach a limit is refused
// and blocks the account for blockFor. The returned ticket (nil when r is
// nil) follows the call.
func (f *Fraud) Check(account string, r *Rule, blockFor time.Duration) (*FraudTicket, *Breach) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.blockedLocked(account, now); b != nil {
		return nil, b
	}
	if r == nil {
		return nil, nil
	}
	k := fraudKey{account, r.Name}
	u := f.use[k]
	if u == nil {
		u = &usage{active: make(map[*FraudTicket]struct{})}
		f.use[k] = u
	}
	u.trim(now)
	limit := ""
	switch {
	case r.CallsPerHour > 0 && len(u.starts) >= r.CallsPerHour:
		limit = "calls_per_hour"
	case r.MaxCalls > 0 && len(u.active) >= r.MaxCalls:
		limit = "max_calls"
	case r.MaxCostPerHour > 0 && u.cost(now) >= r.MaxCostPerHour:
		limit = "max_cost_per_hour"
	}
	if limit != "" {
		b := &Breach{Account: account, Rule: r.Name, Limit: limit, Until: now.Add(blockFor), Err: ErrFraud}
		f.blocked[account] = b
		return nil, b
	}
	t := &FraudTicket{f: f, key: k, rate: r.CostPerMinute}
	u.starts = append(u.starts, now)
	u.active[t] = struct{}{}
	return t, nil
}

// trim forgets what is older than an hour.
func (u *usage) trim(now time.Time) {
	cut := now.Add(-time.Hour)
	i := 0
	for i < len(u.starts) && !u.starts[i].After(cut) {
		i++
	}
	u.starts = u.starts[i:]
	j := 0
	for j < len(u.spent) && !u.spent[j].at.After(cut) {
		j++
	}
	u.spent = u.spent[j:]
}

// cost is what ended calls cost in the last hour plus what calls in
// progress have cost so far.
func (u *usage) cost(now time.Time) float64 {
	var c float64
	for _, s := range u.spent {
		c += s.cost
	}
	for t := range u.active {
		if !t.answered.IsZero() {
			c += now.Sub(t.answered).Minutes() * t.rate
		}
	}
	return c
}

// Cost is the cost account ran up under rule in the last hour.
func (f *Fraud) Cost(account, rule string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.use[fraudKey{account, rule}]
	if u == nil {
		return 0
	}
	now := f.now()
	u.trim(now)
	return u.cost(now)
}

// Answered starts the cost clock of the call. Nil-safe.
func (t *FraudTicket) Answered() {
	if t == nil {
		return
	}
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if t.answered.IsZero() {
		t.answered = t.f.now()
	}
}

// End books the call's cost and frees its concurrent slot. Idempotent, nil-safe.
func (t *FraudTicket) End() {
	if t == nil {
		return
	}
	f := t.f
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	u := f.use[t.key]
	if u == nil {
		return
	}
	delete(u.active, t)
	if !t.answered.IsZero() && t.rate > 0 {
		u.spent = append(u.spent, spend{at: now, cost: now.Sub(t.answered).Minutes() * t.rate})
	}
	u.trim(now)
	if len(u.starts) == 0 && len(u.active) == 0 && len(u.spent) == 0 {
		delete(f.use, t.key)
	}
}
