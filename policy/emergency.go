package policy

import "regexp"

// emergencyRouted reports whether a call from realm to the emergency
// number n is always routed: the route that takes it when every
// conditional route (From, host, header or time matches, a source trunk)
// does not apply hands it to trunks or registered users, and no route
// that may take it instead rejects it or sends it to a service. It
// follows route_selection: file order under first_match, the longest
// ruri_user prefix under longest_prefix. Invalid regexes are reported
// elsewhere and never match here.
func (v *validator) emergencyRouted(realm, n string) bool {
	longest := v.cfg.RouteSelection == SelectLongestPrefix
	var best *RouteConfig
	var risky []*RouteConfig // conditional routes that would not route the call
	for i := range v.cfg.Routes {
		rt := &v.cfg.Routes[i]
		m := &rt.Match
		if (m.SourceRealm != "" && m.SourceRealm != realm) || !stringMatches(m.RURIUser, n) {
			continue
		}
		routes := rt.Reject == nil && rt.Service == "" && (len(rt.Trunks) > 0 || rt.Registered != "")
		conditional := m.SourceTrunk != "" || m.RURIHost != (StringMatch{}) || m.FromUser != (StringMatch{}) ||
			len(m.Headers) > 0 || m.Time != nil
		switch {
		case conditional && !routes:
			risky = append(risky, rt)
		case conditional:
		case !longest:
			if len(risky) > 0 {
				return false // an earlier route may reject it
			}
			return routes
		case best == nil || specificity(rt.Match.RURIUser) > specificity(best.Match.RURIUser):
			best = rt
		}
	}
	if best == nil {
		return false
	}
	for _, rt := range risky {
		if specificity(rt.Match.RURIUser) >= specificity(best.Match.RURIUser) {
			return false
		}
	}
	return best.Reject == nil && best.Service == "" && (len(best.Trunks) > 0 || best.Registered != "")
}

// specificity ranks a ruri_user match like route.specificity.
func specificity(sm StringMatch) int {
	switch {
	case sm.Exact != "":
		return 1 << 20
	case sm.Prefix != "":
		return len(sm.Prefix)
	}
	return 0
}

// stringMatches reports whether sm matches s (an empty match matches
// everything), case-sensitively like a compiled ruri_user matcher.
func stringMatches(sm StringMatch, s string) bool {
	switch {
	case sm.Exact != "":
		return sm.Exact == s
	case sm.Prefix != "":
		return len(s) >= len(sm.Prefix) && s[:len(sm.Prefix)] == sm.Prefix
	case sm.Regex != "":
		re, err := regexp.Compile(sm.Regex)
		return err == nil && re.MatchString(s)
	}
	return true
}
