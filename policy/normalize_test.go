package policy

import (
	"slices"
	"strings"
	"testing"
)

// fakeMsg is a Message over a map keyed by lower-case header name.
type fakeMsg struct {
	headers map[string][]string
	users   map[string]string
	sets    int // SetHeaders calls
}

func newFakeMsg() *fakeMsg {
	return &fakeMsg{headers: map[string][]string{}, users: map[string]string{}}
}

func (m *fakeMsg) Headers(name string) []string { return m.headers[strings.ToLower(name)] }

func (m *fakeMsg) SetHeaders(name string, values []string) {
	m.sets++
	if len(values) == 0 {
		delete(m.headers, strings.ToLower(name))
		return
	}
	m.headers[strings.ToLower(name)] = values
}

func (m *fakeMsg) User(target string) string   { return m.users[target] }
func (m *fakeMsg) SetUser(target, user string) { m.users[target] = user }

func rulesFrom(t *testing.T, rules string) Rules {
	t.Helper()
	doc := "realms:\n  - name: r\n    listeners: [{transport: udp, address: 127.0.0.1:5060}]\n" +
		"    normalization: {inbound: [set]}\nnormalization:\n  set:\n" + rules
	return mustParse(t, doc).Realm("r").Inbound
}

func TestApply(t *testing.T) {
	tests := []struct {
		name        string
		rules       string
		headers     map[string][]string
		users       map[string]string
		wantHeaders map[string][]string
		wantUsers   map[string]string
		wantSets    int
	}{
		{
			name:        "add_header appends",
			rules:       "    - {action: add_header, header: X-Origin, value: pbx}\n",
			headers:     map[string][]string{"x-origin": {"phone"}},
			wantHeaders: map[string][]string{"x-origin": {"phone", "pbx"}},
			wantSets:    1,
		},
		{
			name:        "add_header to absent header",
			rules:       "    - {action: add_header, header: X-Origin, value: pbx}\n",
			wantHeaders: map[string][]string{"x-origin": {"pbx"}},
			wantSets:    1,
		},
		{
			name:        "remove_header removes all, any case",
			rules:       "    - {action: remove_header, header: x-vendor}\n",
			headers:     map[string][]string{"x-vendor": {"a", "b"}, "subject": {"hi"}},
			wantHeaders: map[string][]string{"subject": {"hi"}},
			wantSets:    1,
		},
		{
			name:        "remove_header absent does nothing",
			rules:       "    - {action: remove_header, header: X-Vendor}\n",
			headers:     map[string][]string{"subject": {"hi"}},
			wantHeaders: map[string][]string{"subject": {"hi"}},
		},
		{
			name:        "replace_header rewrites each value, drops emptied ones",
			rules:       "    - {action: replace_header, header: User-Agent, pattern: '^Vendor/([0-9]+).*$', replacement: 'Phone $1'}\n    - {action: replace_header, header: X-Tag, pattern: '^secret$'}\n",
			headers:     map[string][]string{"user-agent": {"Vendor/12.3 (x)", "Other"}, "x-tag": {"secret", "public"}},
			wantHeaders: map[string][]string{"user-agent": {"Phone 12", "Other"}, "x-tag": {"public"}},
			wantSets:    2,
		},
		{
			name:        "replace_header without a match leaves the header alone",
			rules:       "    - {action: replace_header, header: User-Agent, pattern: '^zzz'}\n",
			headers:     map[string][]string{"user-agent": {"Phone"}},
			wantHeaders: map[string][]string{"user-agent": {"Phone"}},
		},
		{
			name:      "rewrite_uri national to E.164",
			rules:     "    - {action: rewrite_uri, target: ruri_user, pattern: '^0([1-9][0-9]+)$', replacement: '+49$1'}\n    - {action: rewrite_uri, target: from_user, pattern: '^0([1-9][0-9]+)$', replacement: '+49$1'}\n",
			users:     map[string]string{"ruri_user": "03012345", "from_user": "+4940", "to_user": "030"},
			wantUsers: map[string]string{"ruri_user": "+493012345", "from_user": "+4940", "to_user": "030"},
		},
		{
			name:      "rewrite_uri to_user",
			rules:     "    - {action: rewrite_uri, target: to_user, pattern: '^\\+49', replacement: '0'}\n",
			users:     map[string]string{"to_user": "+4930"},
			wantUsers: map[string]string{"to_user": "030"},
		},
		{
			name:        "strip_option removes one tag, keeps the rest",
			rules:       "    - {action: strip_option, header: supported, option: timer}\n",
			headers:     map[string][]string{"supported": {"100rel, Timer,replaces", "timer", "path"}},
			wantHeaders: map[string][]string{"supported": {"100rel, replaces", "path"}},
			wantSets:    1,
		},
		{
			name:        "strip_option removes the header when empty",
			rules:       "    - {action: strip_option, header: Require, option: 100rel}\n",
			headers:     map[string][]string{"require": {"100rel"}},
			wantHeaders: map[string][]string{},
			wantSets:    1,
		},
		{
			name:        "strip_option absent tag does nothing",
			rules:       "    - {action: strip_option, header: Require, option: 100rel}\n",
			headers:     map[string][]string{"require": {"timer"}},
			wantHeaders: map[string][]string{"require": {"timer"}},
		},
		{
			name:        "rules run in order",
			rules:       "    - {action: add_header, header: X-A, value: one}\n    - {action: replace_header, header: X-A, pattern: one, replacement: two}\n",
			wantHeaders: map[string][]string{"x-a": {"two"}},
			wantSets:    2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := rulesFrom(t, tt.rules)
			m := newFakeMsg()
			for k, v := range tt.headers {
				m.headers[k] = slices.Clone(v)
			}
			for k, v := range tt.users {
				m.users[k] = v
			}
			rs.Apply(m)
			if tt.wantHeaders != nil {
				if len(m.headers) != len(tt.wantHeaders) {
					t.Errorf("headers %v, want %v", m.headers, tt.wantHeaders)
				}
				for k, v := range tt.wantHeaders {
					if !slices.Equal(m.headers[k], v) {
						t.Errorf("%s = %q, want %q", k, m.headers[k], v)
					}
				}
			}
			for k, v := range tt.wantUsers {
				if m.users[k] != v {
					t.Errorf("%s = %q, want %q", k, m.users[k], v)
				}
			}
			if m.sets != tt.wantSets {
				t.Errorf("SetHeaders called %d times, want %d", m.sets, tt.wantSets)
			}
		})
	}
}

func TestApplyDoesNotAliasInput(t *testing.T) {
	rs := rulesFrom(t, "    - {action: add_header, header: X-A, value: b}\n")
	backing := make([]string, 1, 4)
	backing[0] = "a"
	m := newFakeMsg()
	m.headers["x-a"] = backing
	rs.Apply(m)
	rs.Apply(m)
	if got := m.headers["x-a"]; !slices.Equal(got, []string{"a", "b", "b"}) {
		t.Errorf("got %q", got)
	}
	if backing[:2][1] != "" {
		t.Error("Apply wrote into the slice returned by Headers")
	}
	Rules(nil).Apply(m)
	rs.Apply(nil) // must not panic
}

func TestRuleStrings(t *testing.T) {
	rs := rulesFrom(t, "    - {action: add_header, header: X-A, value: b}\n    - {action: strip_option, header: k, option: timer}\n")
	if got := rs[0].String(); got != "add_header X-A: b" {
		t.Errorf("String() = %q", got)
	}
	if got := rs[1].String(); got != "strip_option Supported timer" {
		t.Errorf("compact header not canonicalised: %q", got)
	}
}
