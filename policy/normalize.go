package policy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ruleKind is a normalisation action.
type ruleKind uint8

const (
	addHeader ruleKind = iota + 1
	removeHeader
	replaceHeader
	rewriteURI
	stripOption
)

var ruleKinds = map[string]ruleKind{
	"add_header":     addHeader,
	"remove_header":  removeHeader,
	"replace_header": replaceHeader,
	"rewrite_uri":    rewriteURI,
	"strip_option":   stripOption,
}

// ruleFields lists, per action, the fields it requires and those it accepts.
var ruleFields = map[ruleKind]struct{ required, optional []string }{
	addHeader:     {required: []string{"header", "value"}},
	removeHeader:  {required: []string{"header"}},
	replaceHeader: {required: []string{"header", "pattern"}, optional: []string{"replacement"}},
	rewriteURI:    {required: []string{"target", "pattern"}, optional: []string{"replacement"}},
	stripOption:   {required: []string{"header", "option"}},
}

// rule is one compiled normalisation rule.
type rule struct {
	kind        ruleKind
	header      string // canonical header name
	value       string
	target      string
	re          *regexp.Regexp
	replacement string
	option      string
}

// String describes the rule, for logs and debugging.
func (r rule) String() string {
	switch r.kind {
	case addHeader:
		return fmt.Sprintf("add_header %s: %s", r.header, r.value)
	case removeHeader:
		return "remove_header " + r.header
	case replaceHeader:
		return fmt.Sprintf("replace_header %s s/%s/%s/", r.header, r.re, r.replacement)
	case rewriteURI:
		return fmt.Sprintf("rewrite_uri %s s/%s/%s/", r.target, r.re, r.replacement)
	case stripOption:
		return fmt.Sprintf("strip_option %s %s", r.header, r.option)
	}
	return "invalid rule"
}

// Apply runs the rules on m in order. A nil Message is left alone.
func (rs Rules) Apply(m Message) {
	if m == nil {
		return
	}
	for i := range rs {
		rs[i].apply(m)
	}
}

func (r *rule) apply(m Message) {
	switch r.kind {
	case addHeader:
		vals := m.Headers(r.header)
		out := make([]string, 0, len(vals)+1)
		out = append(append(out, vals...), r.value)
		m.SetHeaders(r.header, out)
	case removeHeader:
		if len(m.Headers(r.header)) > 0 {
			m.SetHeaders(r.header, nil)
		}
	case replaceHeader:
		vals := m.Headers(r.header)
		out := make([]string, 0, len(vals))
		changed := false
		for _, v := range vals {
			nv := r.re.ReplaceAllString(v, r.replacement)
			if nv != v {
				changed = true
			}
			if strings.TrimSpace(nv) == "" {
				changed = true
				continue
			}
			out = append(out, nv)
		}
		if changed {
			m.SetHeaders(r.header, out)
		}
	case rewriteURI:
		u := m.User(r.target)
		if r.re.MatchString(u) {
			m.SetUser(r.target, r.re.ReplaceAllString(u, r.replacement))
		}
	case stripOption:
		vals := m.Headers(r.header)
		out := make([]string, 0, len(vals))
		changed := false
		for _, v := range vals {
			nv, removed := stripTag(v, r.option)
			changed = changed || removed
			if nv != "" {
				out = append(out, nv)
			}
		}
		if changed {
			m.SetHeaders(r.header, out)
		}
	}
}

// stripTag removes option (case-insensitively) from a comma-separated list
// of option tags; the result is re-joined with ", ".
func stripTag(v, option string) (string, bool) {
	tags := strings.Split(v, ",")
	kept := tags[:0]
	removed := false
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if strings.EqualFold(t, option) {
			removed = true
			continue
		}
		if t != "" {
			kept = append(kept, t)
		}
	}
	if !removed {
		return v, false
	}
	return strings.Join(kept, ", "), true
}

// ruleField returns the value of a RuleConfig field by YAML name.
func ruleField(rc RuleConfig, name string) string {
	switch name {
	case "header":
		return rc.Header
	case "value":
		return rc.Value
	case "target":
		return rc.Target
	case "pattern":
		return rc.Pattern
	case "replacement":
		return rc.Replacement
	case "option":
		return rc.Option
	}
	return ""
}

var allRuleFields = []string{"header", "value", "target", "pattern", "replacement", "option"}

// normalization validates every rule set.
func (v *validator) normalization() {
	for _, name := range slices.Sorted(maps.Keys(v.cfg.Normalization)) {
		p := "normalization." + name
		if !nameRE.MatchString(name) {
			v.errAt(p, "rule set name %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
		rules := v.cfg.Normalization[name]
		if len(rules) == 0 {
			v.errAt(p, "rule set has no rules")
		}
		for i, rc := range rules {
			v.rule(fmt.Sprintf("%s[%d]", p, i), rc)
		}
	}
}

func (v *validator) rule(p string, rc RuleConfig) {
	kind, ok := ruleKinds[rc.Action]
	if !ok {
		if rc.Action == "" {
			v.errAt(p+".action", "action is required (add_header, remove_header, replace_header, rewrite_uri or strip_option)")
		} else {
			v.errAt(p+".action", "%q is not one of add_header, remove_header, replace_header, rewrite_uri or strip_option", rc.Action)
		}
		return
	}
	spec := ruleFields[kind]
	for _, f := range allRuleFields {
		val := ruleField(rc, f)
		switch {
		case slices.Contains(spec.required, f):
			if val == "" {
				v.errAt(p+"."+f, "%s is required for %s", f, rc.Action)
			}
		case slices.Contains(spec.optional, f):
		default:
			if val != "" {
				v.errAt(p+"."+f, "%s is not used by %s", f, rc.Action)
			}
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			v.errAt(p+"."+f, "must not contain CR, LF or NUL")
		}
	}
	if rc.Header != "" {
		switch {
		case !headerRE.MatchString(rc.Header):
			v.errAt(p+".header", "%q is not a valid header name", rc.Header)
		case kind == stripOption:
			if _, ok := optionHeaders[strings.ToLower(rc.Header)]; !ok {
				v.errAt(p+".header", "strip_option works on Require, Supported or Proxy-Require, not %q", rc.Header)
			}
		default:
			if owned, ok := ownedHeaders[strings.ToLower(rc.Header)]; ok {
				hint := ""
				if owned == "From" || owned == "To" {
					hint = " (rewrite the user part with rewrite_uri)"
				}
				v.errAt(p+".header", "%s is built by sbcd on each leg and cannot be changed by rules%s", owned, hint)
			}
		}
	}
	if kind == rewriteURI && rc.Target != "" {
		v.enum(p+".target", rc.Target, "ruri_user", "from_user", "to_user")
	}
	if kind == stripOption && rc.Option != "" && !headerRE.MatchString(rc.Option) {
		v.errAt(p+".option", "%q is not a valid option tag", rc.Option)
	}
	if rc.Pattern != "" {
		v.regex(p+".pattern", rc.Pattern)
	}
}

// compileRules compiles the named rule sets, concatenated in order.
func compileRules(sets map[string][]RuleConfig, names []string) (Rules, error) {
	var out Rules
	for _, n := range names {
		for _, rc := range sets[n] {
			r := rule{
				kind:        ruleKinds[rc.Action],
				header:      rc.Header,
				value:       rc.Value,
				target:      rc.Target,
				replacement: rc.Replacement,
				option:      rc.Option,
			}
			if r.kind == stripOption {
				r.header = optionHeaders[strings.ToLower(rc.Header)]
			}
			if rc.Pattern != "" {
				re, err := regexp.Compile(rc.Pattern)
				if err != nil {
					return nil, fmt.Errorf("rule set %s: %w", n, err)
				}
				r.re = re
			}
			out = append(out, r)
		}
	}
	return out, nil
}
