package cac

import (
	"fmt"
	"sync"
	"time"
)

// Limit is one admission limit. Zero fields are unlimited.
type Limit struct {
	// Key names what is limited, such as "trunk:pbx", "realm:access" or
	// "account:access:alice". Calls admitted under the same key share its counters.
	Key string
	// MaxCalls bounds concurrent calls.
	MaxCalls int
	// MaxCPS bounds new calls per second (a token bucket of MaxCPS tokens
	// refilled at MaxCPS per second).
	MaxCPS int
}

// Refusal says which limit refused a call; it wraps ErrCalls or ErrRate.
type Refusal struct {
	Key string
	Err error
	// RetryAfter is a hint of when to retry.
	RetryAfter time.Duration
}

func (r *Refusal) Error() string { return fmt.Sprintf("%v (%s)", r.Err, r.Key) }
func (r *Refusal) Unwrap() error { return r.Err }

type counter struct {
	active int
	tokens float64
	last   time.Time
}

// Admission keeps the counters of every key. The zero value is not usable; use New.
type Admission struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*counter
}

// New returns an empty Admission; now is the clock (nil: time.Now).
func New(now func() time.Time) *Admission {
	if now == nil {
		now = time.Now
	}
	return &Admission{now: now, m: make(map[string]*counter)}
}

// Ticket is an admitted call's hold on its counters; Release it once.
type Ticket struct {
	a    *Admission
	keys []string
	once sync.Once
}

// Admit checks every limit and, when all allow the call, counts it under
// each (force counts it even when a limit is reached: emergency calls).
// It returns the ticket to release when the call ends, or the first
// refusal (then nothing is counted). Limits with no maximum are counted too,
// so Active reports them.
func (a *Admission) Admit(limits []Limit, force bool) (*Ticket, *Refusal) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !force {
		for _, l := range limits {
			c := a.m[l.Key]
			if c == nil {
				continue
			}
			if l.MaxCalls > 0 && c.active >= l.MaxCalls {
				return nil, &Refusal{Key: l.Key, Err: ErrCalls, RetryAfter: 5 * time.Second}
			}
			if l.MaxCPS > 0 && c.refill(now, l.MaxCPS) < 1 {
				return nil, &Refusal{Key: l.Key, Err: ErrRate, RetryAfter: time.Second}
			}
		}
	}
	t := &Ticket{a: a, keys: make([]string, 0, len(limits))}
	for _, l := range limits {
		c := a.m[l.Key]
		if c == nil {
			c = &counter{tokens: float64(l.MaxCPS), last: now}
			a.m[l.Key] = c
		}
		if l.MaxCPS > 0 {
			c.refill(now, l.MaxCPS)
			c.tokens--
		}
		c.active++
		t.keys = append(t.keys, l.Key)
	}
	return t, nil
}

// refill adds the tokens earned since the last call and returns the balance.
func (c *counter) refill(now time.Time, cps int) float64 {
	if d := now.Sub(c.last); d > 0 {
		c.tokens = min(float64(cps), c.tokens+d.Seconds()*float64(cps))
		c.last = now
	}
	return c.tokens
}

// Full reports whether the concurrent-call limit l is reached.
func (a *Admission) Full(l Limit) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.m[l.Key]
	return l.MaxCalls > 0 && c != nil && c.active >= l.MaxCalls
}

// Active is the number of calls counted under key.
func (a *Admission) Active(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.m[key]; c != nil {
		return c.active
	}
	return 0
}

// Release gives the ticket's counts back. It is idempotent and nil-safe.
func (t *Ticket) Release() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		now := t.a.now()
		t.a.mu.Lock()
		defer t.a.mu.Unlock()
		for _, k := range t.keys {
			c := t.a.m[k]
			if c == nil {
				continue
			}
			c.active--
			// A key with no call and a full bucket carries no state: forget it.
			if c.active <= 0 && now.Sub(c.last) > 10*time.Second {
				delete(t.a.m, k)
			}
		}
	})
}
