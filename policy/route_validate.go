package policy

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones of route time matches work without the system's zoneinfo
)

func (v *validator) healthCheck(p string, h *HealthCheckConfig) {
	if h == nil {
		return
	}
	okInterval := false
	switch {
	case h.Interval < 100*time.Millisecond:
		v.errAt(p+".interval", "%s is below the minimum of 100ms", h.Interval)
	case h.Interval > time.Hour:
		v.errAt(p+".interval", "%s is above the maximum of 1h", h.Interval)
	default:
		okInterval = true
	}
	switch {
	case h.Timeout < 10*time.Millisecond:
		v.errAt(p+".timeout", "%s is below the minimum of 10ms", h.Timeout)
	case okInterval && h.Timeout >= h.Interval:
		v.errAt(p+".timeout", "%s must be shorter than interval %s", h.Timeout, h.Interval)
	}
	if h.Failures < 1 || h.Failures > 100 {
		v.errAt(p+".failures", "%d is outside 1-100", h.Failures)
	}
	if h.Successes < 1 || h.Successes > 100 {
		v.errAt(p+".successes", "%d is outside 1-100", h.Successes)
	}
}

func (v *validator) rateTablesCheck() {
	names := map[string]string{}
	for i := range v.cfg.RateTables {
		rt := &v.cfg.RateTables[i]
		p := fmt.Sprintf("rate_tables[%d]", i)
		v.name(p+".name", "rate table", rt.Name, names)
		if rt.File == "" && len(rt.Rates) == 0 {
			v.errAt(p, "rate table needs rates, a file, or both")
		}
		for j, r := range rt.Rates {
			rp := fmt.Sprintf("%s.rates[%d]", p, j)
			if msg := checkRate(r.Prefix, r.Trunk, r.Cost); msg != "" {
				v.errAt(rp, "%s", msg)
			} else if v.trunks[r.Trunk] == nil {
				v.errAt(rp+".trunk", "unknown trunk %q", r.Trunk)
			}
		}
		if rt.File == "" {
			continue
		}
		rates, err := readRateFile(rt.File)
		if err != nil {
			v.errAt(p+".file", "%s: %v", rt.File, err)
			continue
		}
		for _, r := range rates {
			if v.trunks[r.Trunk] == nil {
				v.errAt(p+".file", "%s: line %d: unknown trunk %q", rt.File, r.line, r.Trunk)
				break
			}
		}
		rt.loaded = rates
	}
}

func (v *validator) routeRouting(p string, r *RouteConfig) {
	v.enum(p+".strategy", r.Strategy, StrategyOrdered, StrategyWeighted, StrategyLeastCost, StrategyQuality)
	if r.Strategy != StrategyOrdered && len(r.Trunks) < 1 {
		v.errAt(p+".strategy", "strategy %s needs trunks", r.Strategy)
	}
	if len(r.Weights) > 0 && r.Strategy != StrategyWeighted {
		v.errAt(p+".weights", "weights apply only to strategy weighted")
	}
	for name, w := range r.Weights {
		wp := p + ".weights." + name
		switch {
		case !strings.Contains(","+strings.Join(r.Trunks, ",")+",", ","+name+","):
			v.errAt(wp, "trunk %q is not in this route's trunks", name)
		case w < 1 || w > 65535:
			v.errAt(wp, "%d is outside 1-65535", w)
		}
	}
	switch {
	case r.Strategy == StrategyLeastCost && r.RateTable == "":
		v.errAt(p+".rate_table", "strategy least_cost needs a rate_table")
	case r.RateTable != "" && r.Strategy != StrategyLeastCost:
		v.errAt(p+".rate_table", "rate_table applies only to strategy least_cost")
	case r.RateTable != "":
		found := false
		for _, rt := range v.cfg.RateTables {
			found = found || rt.Name == r.RateTable
		}
		if !found {
			v.errAt(p+".rate_table", "unknown rate table %q", r.RateTable)
		}
	}
	if q := r.Quality; q != nil {
		qp := p + ".quality"
		if r.Strategy != StrategyQuality {
			v.errAt(qp, "quality applies only to strategy quality")
		}
		if q.Window < time.Second || q.Window > 24*time.Hour {
			v.errAt(qp+".window", "%s is outside 1s-24h", q.Window)
		}
		if q.MinSamples < 1 || q.MinSamples > 100000 {
			v.errAt(qp+".min_samples", "%d is outside 1-100000", q.MinSamples)
		}
		if q.MinMOS < 1 || q.MinMOS > 5 {
			v.errAt(qp+".min_mos", "%v is outside 1-5", q.MinMOS)
		}
		if q.MinASR < 0 || q.MinASR > 100 {
			v.errAt(qp+".min_asr", "%v is outside 0-100 (percent)", q.MinASR)
		}
		if q.MaxPDD < 0 {
			v.errAt(qp+".max_pdd", "%s must not be negative", q.MaxPDD)
		}
		if q.Hysteresis < 0 || q.Hysteresis >= 1 {
			v.errAt(qp+".hysteresis", "%v is outside 0-1", q.Hysteresis)
		}
	}
	for j, tr := range r.Translate {
		tp := fmt.Sprintf("%s.translate[%d]", p, j)
		v.enum(tp+".target", tr.Target, "ruri_user", "from_user")
		if tr.Pattern == "" {
			v.errAt(tp+".pattern", "pattern is required")
		} else {
			v.regex(tp+".pattern", tr.Pattern)
		}
		if strings.ContainsAny(tr.Replacement, "\r\n\x00@;<> ") {
			v.errAt(tp+".replacement", "must not contain CR, LF, NUL, space, '@', ';', '<' or '>'")
		}
	}
	f := r.Failover
	for j, code := range f.Codes {
		if code < 300 || code > 699 {
			v.errAt(fmt.Sprintf("%s.failover.codes[%d]", p, j), "%d is outside 300-699", code)
		}
	}
	if f.MaxAttempts < 0 || f.MaxAttempts > 100 {
		v.errAt(p+".failover.max_attempts", "%d is outside 0-100", f.MaxAttempts)
	}
	if f.AttemptTimeout < 0 {
		v.errAt(p+".failover.attempt_timeout", "%s must not be negative", f.AttemptTimeout)
	}
	if f.SetupTimeout < 0 {
		v.errAt(p+".failover.setup_timeout", "%s must not be negative", f.SetupTimeout)
	}
}

func (v *validator) matchExtras(p string, m MatchConfig) {
	for j, h := range m.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", p, j)
		switch {
		case h.Name == "":
			v.errAt(hp+".name", "header name is required")
		case !headerRE.MatchString(h.Name):
			v.errAt(hp+".name", "%q is not a valid header name", h.Name)
		}
		sm := StringMatch{Exact: h.Exact, Prefix: h.Prefix, Regex: h.Regex}
		if sm == (StringMatch{}) {
			v.errAt(hp, "set one of exact, prefix or regex")
		}
		v.stringMatch(hp, sm)
	}
	tm := m.Time
	if tm == nil {
		return
	}
	tp := p + ".time"
	if _, err := time.LoadLocation(tm.Zone); err != nil || tm.Zone == "Local" {
		v.errAt(tp+".zone", "unknown time zone %q (use an IANA name such as Europe/Berlin or UTC)", tm.Zone)
	}
	for j, d := range tm.Days {
		if _, ok := weekdays[strings.ToLower(d)]; !ok {
			v.errAt(fmt.Sprintf("%s.days[%d]", tp, j), "%q is not one of mon, tue, wed, thu, fri, sat or sun", d)
		}
	}
	var from, to int
	var okFrom, okTo = true, true
	if tm.From != "" {
		var err error
		if from, err = parseClock(tm.From); err != nil {
			v.errAt(tp+".from", "%v", err)
			okFrom = false
		}
	}
	if tm.To != "" {
		var err error
		if to, err = parseClock(tm.To); err != nil {
			v.errAt(tp+".to", "%v", err)
			okTo = false
		}
	}
	if okFrom && okTo && (tm.From != "" || tm.To != "") && from == to {
		v.errAt(tp, "from and to are equal: leave both out for the whole day")
	}
}
