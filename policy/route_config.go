package policy

import (
	"path/filepath"
	"time"
)

// HealthCheckConfig is SIP OPTIONS probing of a trunk's gateways, sent from
// the trunk realm's own listener. A gateway is taken out of routing after
// Failures probes in a row failed and put back after Successes good ones. A
// probe succeeds when the gateway answers with any final response except
// 503; no answer within Timeout, a transport error or 503 is a failure.
type HealthCheckConfig struct {
	// Interval between probes of one gateway. Default 10s.
	Interval time.Duration `yaml:"interval"`
	// Timeout is how long a probe waits for its answer; below Interval. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// Failures in a row take a gateway out of service. Default 3.
	Failures int `yaml:"failures"`
	// Successes in a row put it back. Default 2.
	Successes int `yaml:"successes"`
}

// RateTableConfig is a named table of costs per called-number prefix and
// trunk, for least-cost routing. Rates come from Rates, from File, or both.
type RateTableConfig struct {
	// Name identifies the table in routes. Required, unique.
	Name string `yaml:"name"`
	// File is a CSV file of prefix,trunk,cost lines (an optional header
	// line, # comments), relative to the policy file. Read at every load
	// and reload of the policy.
	File string `yaml:"file"`
	// Rates are entries written in the policy itself.
	Rates []RateConfig `yaml:"rates"`
	// loaded holds File's rates once validation has read it.
	loaded []RateConfig
}

// RateConfig is the cost per minute of calling numbers with Prefix over Trunk.
type RateConfig struct {
	// Prefix of the called number (R-URI user after translation), digits,
	// optionally with a leading +. Empty matches every number.
	Prefix string `yaml:"prefix"`
	// Trunk that has this rate. Required.
	Trunk string `yaml:"trunk"`
	// Cost per minute, in any currency unit, not negative.
	Cost float64 `yaml:"cost"`
	// line is the rate's line in its CSV file (0: written in the policy).
	line int
}

// QualityConfig sets when strategy quality considers a trunk degraded. A
// trunk is judged only once it has MinSamples calls in the Window; a
// degraded trunk is tried after the others and recovers only when every
// figure is better than its threshold by the Hysteresis fraction.
type QualityConfig struct {
	// Window is how far back calls count. Default 15m.
	Window time.Duration `yaml:"window"`
	// MinSamples is the number of calls needed before a trunk is judged. Default 10.
	MinSamples int `yaml:"min_samples"`
	// MinMOS is the lowest acceptable mean MOS of answered calls (1-5;
	// 1 never degrades a trunk). Default 3.5.
	MinMOS float64 `yaml:"min_mos"`
	// MinASR is the lowest acceptable answer-seizure ratio in percent (0-100). Default 0 (off).
	MinASR float64 `yaml:"min_asr"`
	// MaxPDD is the highest acceptable mean post-dial delay (INVITE to
	// first ringing or answer). Default 0 (off).
	MaxPDD time.Duration `yaml:"max_pdd"`
	// Hysteresis is the fraction (0-1) by which a degraded trunk must beat
	// the thresholds to recover. Default 0.1.
	Hysteresis float64 `yaml:"hysteresis"`
}

// TranslateConfig rewrites a number of the request when its route is taken.
type TranslateConfig struct {
	// Target is ruri_user (the called number) or from_user. Default ruri_user.
	Target string `yaml:"target"`
	// Pattern is a regular expression; Replacement may use $1 groups.
	Pattern     string `yaml:"pattern"`
	Replacement string `yaml:"replacement"`
}

// FailoverConfig is what moves a call on to its next candidate gateway or
// trunk, and the bounds on trying.
type FailoverConfig struct {
	// Codes are the final responses that try the next candidate. Default:
	// the failover_codes of each attempt's trunk. Timeouts always fail over.
	Codes []int `yaml:"codes"`
	// MaxAttempts caps the candidates tried per call. Default 0 (no cap).
	MaxAttempts int `yaml:"max_attempts"`
	// AttemptTimeout bounds one attempt's wait for a final answer.
	// Default sip.invite_timeout.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// SetupTimeout bounds the whole call setup over all attempts; when it
	// runs out the caller gets 504. Default 0 (no bound).
	SetupTimeout time.Duration `yaml:"setup_timeout"`
}

// HeaderMatch matches a request header by exactly one of exact value,
// prefix or regex. A header absent from the request does not match.
type HeaderMatch struct {
	// Name of the header, case-insensitive. Required.
	Name   string `yaml:"name"`
	Exact  string `yaml:"exact"`
	Prefix string `yaml:"prefix"`
	Regex  string `yaml:"regex"`
}

// TimeMatch matches the time a request arrives at, in a time zone.
type TimeMatch struct {
	// Zone is an IANA time zone such as Europe/Berlin. Default UTC.
	Zone string `yaml:"zone"`
	// Days are mon, tue, wed, thu, fri, sat, sun. Default every day.
	Days []string `yaml:"days"`
	// From and To are HH:MM; the window is [From, To). To before From
	// spans midnight (its early part counts for the day it started).
	// Default the whole day.
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Defaults of the routing keys, as documented on their fields.
const (
	DefaultHealthInterval  = 10 * time.Second
	DefaultHealthTimeout   = 2 * time.Second
	DefaultHealthFailures  = 3
	DefaultHealthSuccesses = 2
	DefaultQualityWindow   = 15 * time.Minute
	DefaultQualitySamples  = 10
	DefaultMinMOS          = 3.5
	DefaultHysteresis      = 0.1
)

// applyRouteDefaults fills the routing keys' defaults.
func applyRouteDefaults(c *Config, dir string) {
	setStr(&c.RouteSelection, SelectFirstMatch)
	for i := range c.RateTables {
		if f := c.RateTables[i].File; f != "" && !filepath.IsAbs(f) {
			c.RateTables[i].File = filepath.Join(dir, f)
		}
	}
	for i := range c.Trunks {
		if h := c.Trunks[i].HealthCheck; h != nil {
			setDur(&h.Interval, DefaultHealthInterval)
			setDur(&h.Timeout, DefaultHealthTimeout)
			setInt(&h.Failures, DefaultHealthFailures)
			setInt(&h.Successes, DefaultHealthSuccesses)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		setStr(&r.Strategy, StrategyOrdered)
		if r.Strategy == StrategyQuality && r.Quality == nil {
			r.Quality = &QualityConfig{}
		}
		if q := r.Quality; q != nil {
			setDur(&q.Window, DefaultQualityWindow)
			setInt(&q.MinSamples, DefaultQualitySamples)
			if q.MinMOS == 0 {
				q.MinMOS = DefaultMinMOS
			}
			if q.Hysteresis == 0 {
				q.Hysteresis = DefaultHysteresis
			}
		}
		for j := range r.Translate {
			setStr(&r.Translate[j].Target, "ruri_user")
		}
		if r.Match.Time != nil {
			setStr(&r.Match.Time.Zone, "UTC")
		}
	}
}
