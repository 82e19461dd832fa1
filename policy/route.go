package policy

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Routing strategies (RouteConfig.Strategy).
const (
	StrategyOrdered   = "ordered"
	StrategyWeighted  = "weighted"
	StrategyLeastCost = "least_cost"
	StrategyQuality   = "quality"
)

// Route selection modes (Config.RouteSelection).
const (
	SelectFirstMatch    = "first_match"
	SelectLongestPrefix = "longest_prefix"
)

// Live is what routing knows about trunks at the moment of a call: which
// have a gateway in service and how well each has carried calls lately.
// sbc implements it over its health checks and call statistics; a nil Live
// means every trunk is available and unmeasured.
type Live interface {
	// TrunkAvailable reports whether at least one gateway of t is in service.
	TrunkAvailable(t *Trunk) bool
	// TrunkQuality returns t's measured quality as judged for the named
	// route under q.
	TrunkQuality(route string, t *Trunk, q QualityConfig) TrunkQuality
}

// TrunkQuality is a trunk's measured call quality over a route's window.
type TrunkQuality struct {
	// Samples is the number of calls in the window; ASR counts all of
	// them, MOS only answered calls with media figures, PDD those that rang
	// or were answered.
	Samples int `json:"samples"`
	// MOS is the mean MOS, ASR the answered share in percent, PDD the mean
	// post-dial delay.
	MOS float64       `json:"mos"`
	ASR float64       `json:"asr"`
	PDD time.Duration `json:"pdd_ns"`
	// Judged is set when Samples reached the route's min_samples.
	Judged bool `json:"judged"`
	// Degraded is set when the trunk is below the route's thresholds.
	Degraded bool `json:"degraded"`
}

// Candidate is one trunk of a routing decision and why it stands where it does.
type Candidate struct {
	Trunk *Trunk `json:"-"`
	Name  string `json:"trunk"`
	// Usable is false when the trunk will not be tried (Note says why).
	Usable bool `json:"usable"`
	// Cost and Prefix are the least-cost rate found (HasCost false: none).
	HasCost bool    `json:"has_cost"`
	Cost    float64 `json:"cost,omitempty"`
	Prefix  string  `json:"rate_prefix,omitempty"`
	// Weight is the trunk's share under strategy weighted.
	Weight int `json:"weight,omitempty"`
	// Quality is set under strategy quality.
	Quality *TrunkQuality `json:"quality,omitempty"`
	Note    string        `json:"note,omitempty"`
}

// RouteCheck is one route looked at for an explained request.
type RouteCheck struct {
	Route   string `json:"route"`
	Matched bool   `json:"matched"`
	// Why names the first match field that failed, or what matched.
	Why string `json:"why"`
}

// Failover is a route's compiled failover settings.
type Failover struct {
	codes map[int]bool
	// MaxAttempts caps the candidates tried (0: no cap).
	MaxAttempts int
	// AttemptTimeout bounds one attempt; SetupTimeout the whole setup (0: none).
	AttemptTimeout time.Duration
	SetupTimeout   time.Duration
}

// FailsOver reports whether a final response with this code, given by a
// gateway of t (nil: a registered user), moves the call to the next
// candidate: the route's codes when it lists any, else t's failover codes,
// else the default codes.
func (f *Failover) FailsOver(code int, t *Trunk) bool {
	switch {
	case f != nil && len(f.codes) > 0:
		return f.codes[code]
	case t != nil:
		return t.FailsOver(code)
	}
	return slices.Contains(DefaultFailoverCodes(), code)
}

// Codes returns the route's own failover codes, sorted (nil: the trunks').
func (f *Failover) Codes() []int {
	if f == nil || len(f.codes) == 0 {
		return nil
	}
	out := make([]int, 0, len(f.codes))
	for c := range f.codes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// headerMatcher is a compiled HeaderMatch.
type headerMatcher struct {
	name string
	m    matcher
}

// translation is a compiled TranslateConfig.
type translation struct {
	target string
	re     *regexp.Regexp
	repl   string
}

// timeWindow is a compiled TimeMatch.
type timeWindow struct {
	loc      *time.Location
	days     uint8 // bit per time.Weekday
	from, to int   // minutes of the day; from == to: the whole day
}

func (w *timeWindow) match(t time.Time) bool {
	lt := t.In(w.loc)
	day := lt.Weekday()
	m := lt.Hour()*60 + lt.Minute()
	on := func(d time.Weekday) bool { return w.days&(1<<d) != 0 }
	switch {
	case w.from == w.to:
		return on(day)
	case w.from < w.to:
		return on(day) && m >= w.from && m < w.to
	default: // spans midnight
		return (on(day) && m >= w.from) || (on((day+6)%7) && m < w.to)
	}
}

// explainTime describes the window for explanations.
func (w *timeWindow) String() string {
	var days []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w.days&(1<<d) != 0 {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
	}
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d %s", strings.Join(days, ","), w.from/60, w.from%60, w.to/60, w.to%60, w.loc)
}

// route is a compiled RouteConfig: its matchers and the precomputed decision.
type route struct {
	name                         string
	sourceRealm, sourceTrunk     string
	ruriUser, ruriHost, fromUser matcher
	headers                      []headerMatcher
	window                       *timeWindow
	decision                     Decision
	strategy                     string
	weights                      []int // parallel to decision.Trunks
	rates                        *rateTable
	quality                      QualityConfig
	translate                    []translation
	// static: Route may return decision as it is (ordered, no translation).
	static bool
}

func (r *route) matches(q *Request) bool {
	if !((r.sourceRealm == "" || r.sourceRealm == q.SourceRealm) &&
		(r.sourceTrunk == "" || r.sourceTrunk == q.SourceTrunk) &&
		r.ruriUser.match(q.RURIUser) &&
		r.ruriHost.match(q.RURIHost) &&
		r.fromUser.match(q.FromUser)) {
		return false
	}
	if len(r.headers) == 0 && r.window == nil {
		return true
	}
	return r.why(q, false) == ""
}

// why returns "" when the route matches q, else the first field that did
// not match (described only when explain is set).
func (r *route) why(q *Request, explain bool) string {
	fail := func(format string, args ...any) string {
		if !explain {
			return "x"
		}
		return fmt.Sprintf(format, args...)
	}
	switch {
	case r.sourceRealm != "" && r.sourceRealm != q.SourceRealm:
		return fail("source realm %q is not %q", q.SourceRealm, r.sourceRealm)
	case r.sourceTrunk != "" && r.sourceTrunk != q.SourceTrunk:
		return fail("source trunk %q is not %q", q.SourceTrunk, r.sourceTrunk)
	case !r.ruriUser.match(q.RURIUser):
		return fail("ruri_user %q does not match %s", q.RURIUser, r.ruriUser.String())
	case !r.ruriHost.match(q.RURIHost):
		return fail("ruri_host %q does not match %s", q.RURIHost, r.ruriHost.String())
	case !r.fromUser.match(q.FromUser):
		return fail("from_user %q does not match %s", q.FromUser, r.fromUser.String())
	}
	for i := range r.headers {
		h := &r.headers[i]
		var vals []string
		if q.Headers != nil {
			vals = q.Headers(h.name)
		}
		ok := false
		for _, v := range vals {
			if h.m.match(strings.TrimSpace(v)) {
				ok = true
				break
			}
		}
		if !ok {
			return fail("header %s %q does not match %s", h.name, vals, h.m.String())
		}
	}
	if r.window != nil {
		t := q.Time
		if t.IsZero() {
			t = time.Now()
		}
		if !r.window.match(t) {
			return fail("time %s is outside %s", t.In(r.window.loc).Format("Mon 15:04"), r.window)
		}
	}
	return ""
}

// specificity ranks a matching route under longest_prefix selection: the
// length of its ruri_user prefix; an exact ruri_user beats every prefix.
func (r *route) specificity() int {
	switch r.ruriUser.kind {
	case matchPrefix:
		return len(r.ruriUser.s)
	case matchExact:
		return 1 << 20
	}
	return 0
}

// String describes a matcher for explanations.
func (m *matcher) String() string {
	switch m.kind {
	case matchExact:
		return fmt.Sprintf("exact %q", m.s)
	case matchPrefix:
		return fmt.Sprintf("prefix %q", m.s)
	case matchRegex:
		return fmt.Sprintf("regex %q", m.re.String())
	}
	return "anything"
}

// Route returns the decision for r with every trunk available and
// unmeasured; see Decide.
func (s *Set) Route(r Request) Decision { return s.Decide(r, nil, nil) }

// Decide returns the decision of the route that matches r (the first in
// file order, or the one with the longest ruri_user prefix under
// route_selection longest_prefix). When none does, the decision rejects
// with 404 Not Found. The route's strategy orders its trunks, using live
// (nil: all available, unmeasured) and rnd (nil: the global source) for
// weighted choices; trunks that cannot be used stay in Candidates with a
// note but not in Trunks. With r.Explain set, Checked lists every route
// looked at. The returned Decision may share the Set's data: treat it as
// read-only. For ordered routes without translation, with a nil live and
// no explanation, Decide does not allocate.
func (s *Set) Decide(r Request, live Live, rnd *rand.Rand) Decision {
	var best *route
	var checked []RouteCheck
	for _, rt := range s.routes {
		var ok bool
		if r.Explain {
			why := rt.why(&r, true)
			ok = why == ""
			if ok {
				why = "every match field matched"
			}
			checked = append(checked, RouteCheck{Route: rt.name, Matched: ok, Why: why})
		} else {
			ok = rt.matches(&r)
		}
		if !ok {
			continue
		}
		if s.longestPrefix {
			if best == nil || rt.specificity() > best.specificity() {
				best = rt
			}
			continue
		}
		best = rt
		break
	}
	if best == nil {
		d := s.noRoute
		d.CalledUser, d.CallingUser = r.RURIUser, r.FromUser
		d.Checked = checked
		return d
	}
	if best.static && live == nil && !r.Explain {
		d := best.decision
		d.CalledUser, d.CallingUser = r.RURIUser, r.FromUser
		return d
	}
	d := best.decide(&r, live, rnd)
	d.Checked = checked
	return d
}

// decide applies the route's translation and strategy to one request.
func (rt *route) decide(r *Request, live Live, rnd *rand.Rand) Decision {
	d := rt.decision
	d.CalledUser, d.CallingUser = r.RURIUser, r.FromUser
	for _, tr := range rt.translate {
		switch tr.target {
		case "from_user":
			d.CallingUser = tr.re.ReplaceAllString(d.CallingUser, tr.repl)
		default:
			d.CalledUser = tr.re.ReplaceAllString(d.CalledUser, tr.repl)
		}
	}
	if len(rt.decision.Trunks) == 0 {
		d.Candidates = nil
		return d
	}
	cands := make([]Candidate, len(rt.decision.Trunks))
	for i, t := range rt.decision.Trunks {
		cands[i] = Candidate{Trunk: t, Name: t.Name, Usable: true}
		if live != nil && !live.TrunkAvailable(t) {
			cands[i].Usable = false
			cands[i].Note = "no gateway in service"
		}
	}
	switch rt.strategy {
	case StrategyWeighted:
		for i := range cands {
			cands[i].Weight = rt.weights[i]
		}
		weightedOrder(cands, func(c Candidate) int { return c.Weight }, rnd)
	case StrategyLeastCost:
		for i := range cands {
			c := &cands[i]
			c.Prefix, c.Cost, c.HasCost = rt.rates.lookup(c.Name, d.CalledUser)
			if !c.HasCost {
				c.Usable = false
				c.Note = joinNote(c.Note, fmt.Sprintf("no rate for %q in rate table %s", d.CalledUser, rt.rates.name))
			}
		}
		slices.SortStableFunc(cands, func(a, b Candidate) int {
			switch {
			case a.HasCost != b.HasCost:
				if a.HasCost {
					return -1
				}
				return 1
			case a.Cost < b.Cost:
				return -1
			case a.Cost > b.Cost:
				return 1
			}
			return 0
		})
	case StrategyQuality:
		for i := range cands {
			c := &cands[i]
			q := TrunkQuality{}
			if live != nil {
				q = live.TrunkQuality(rt.name, c.Trunk, rt.quality)
			}
			c.Quality = &q
			switch {
			case q.Degraded:
				c.Note = joinNote(c.Note, "degraded: tried after the others")
			case !q.Judged:
				c.Note = joinNote(c.Note, fmt.Sprintf("not judged yet (%d of %d calls)", q.Samples, rt.quality.MinSamples))
			}
		}
		slices.SortStableFunc(cands, func(a, b Candidate) int {
			switch {
			case a.Quality.Degraded == b.Quality.Degraded:
				if a.Quality.Degraded && a.Quality.MOS != b.Quality.MOS {
					if a.Quality.MOS > b.Quality.MOS {
						return -1
					}
					return 1
				}
				return 0
			case b.Quality.Degraded:
				return -1
			}
			return 1
		})
	}
	d.Candidates = cands
	d.Trunks = nil
	for _, c := range cands {
		if c.Usable {
			d.Trunks = append(d.Trunks, c.Trunk)
		}
	}
	return d
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// weightedOrder orders items so that each position is drawn from the
// remaining items with probability proportional to weight.
func weightedOrder[T any](items []T, weight func(T) int, rnd *rand.Rand) {
	for k := 0; k < len(items)-1; k++ {
		total := 0
		for _, x := range items[k:] {
			total += weight(x)
		}
		if total <= 0 {
			return
		}
		var pick int
		if rnd != nil {
			pick = rnd.IntN(total)
		} else {
			pick = rand.IntN(total)
		}
		for j := k; j < len(items); j++ {
			pick -= weight(items[j])
			if pick < 0 {
				items[k], items[j] = items[j], items[k]
				break
			}
		}
	}
}

// weekdays maps TimeMatch day names to time.Weekday.
var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseClock parses HH:MM into minutes of the day.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day as HH:MM (00:00-23:59)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func compileWindow(tm *TimeMatch) (*timeWindow, error) {
	loc, err := time.LoadLocation(tm.Zone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tm.Zone, err)
	}
	w := &timeWindow{loc: loc}
	if len(tm.Days) == 0 {
		w.days = 0x7f
	}
	for _, d := range tm.Days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return nil, fmt.Errorf("unknown day %q", d)
		}
		w.days |= 1 << wd
	}
	if tm.From != "" {
		if w.from, err = parseClock(tm.From); err != nil {
			return nil, err
		}
	}
	if tm.To != "" {
		if w.to, err = parseClock(tm.To); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// compileRoute builds a route from a validated RouteConfig.
func (s *Set) compileRoute(cfg *Config, rc RouteConfig) (*route, error) {
	r := &route{name: rc.Name, sourceRealm: rc.Match.SourceRealm, sourceTrunk: rc.Match.SourceTrunk, strategy: rc.Strategy}
	var err error
	if r.ruriUser, err = compileMatch(rc.Match.RURIUser, false); err != nil {
		return nil, err
	}
	if r.ruriHost, err = compileMatch(rc.Match.RURIHost, true); err != nil {
		return nil, err
	}
	if r.fromUser, err = compileMatch(rc.Match.FromUser, false); err != nil {
		return nil, err
	}
	for _, hm := range rc.Match.Headers {
		m, err := compileMatch(StringMatch{Exact: hm.Exact, Prefix: hm.Prefix, Regex: hm.Regex}, false)
		if err != nil {
			return nil, err
		}
		r.headers = append(r.headers, headerMatcher{name: hm.Name, m: m})
	}
	if rc.Match.Time != nil {
		if r.window, err = compileWindow(rc.Match.Time); err != nil {
			return nil, err
		}
	}
	for _, tc := range rc.Translate {
		re, err := regexp.Compile(tc.Pattern)
		if err != nil {
			return nil, err
		}
		r.translate = append(r.translate, translation{target: tc.Target, re: re, repl: tc.Replacement})
	}
	fo := &Failover{MaxAttempts: rc.Failover.MaxAttempts, AttemptTimeout: rc.Failover.AttemptTimeout,
		SetupTimeout: rc.Failover.SetupTimeout}
	if fo.AttemptTimeout == 0 {
		fo.AttemptTimeout = cfg.SIP.InviteTimeout
	}
	if len(rc.Failover.Codes) > 0 {
		fo.codes = map[int]bool{}
		for _, c := range rc.Failover.Codes {
			fo.codes[c] = true
		}
	}
	d := Decision{Route: rc.Name, Service: rc.Service, Registered: rc.Registered, Failover: fo}
	if len(rc.Trunks) > 0 {
		d.Strategy = rc.Strategy
	}
	for _, tn := range rc.Trunks {
		t := s.trunkByName[tn]
		if t == nil {
			return nil, fmt.Errorf("unknown trunk %q", tn)
		}
		d.Trunks = append(d.Trunks, t)
		w := rc.Weights[tn]
		if w == 0 {
			w = 1
		}
		r.weights = append(r.weights, w)
		d.Candidates = append(d.Candidates, Candidate{Trunk: t, Name: t.Name, Usable: true})
	}
	if rc.Strategy == StrategyLeastCost {
		if r.rates = s.rateTables[rc.RateTable]; r.rates == nil {
			return nil, fmt.Errorf("unknown rate table %q", rc.RateTable)
		}
	}
	if rc.Quality != nil {
		r.quality = *rc.Quality
	}
	if rc.Reject != nil {
		rj := *rc.Reject
		d.Reject = &rj
	}
	r.decision = d
	r.static = (rc.Strategy == "" || rc.Strategy == StrategyOrdered) && len(r.translate) == 0
	return r, nil
}
