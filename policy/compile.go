package policy

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// matchKind is how a StringMatch compares.
type matchKind uint8

const (
	matchAny matchKind = iota
	matchExact
	matchPrefix
	matchRegex
)

// matcher is a compiled StringMatch.
type matcher struct {
	kind matchKind
	s    string
	re   *regexp.Regexp
	fold bool // compare case-insensitively (hosts)
}

func (m *matcher) match(s string) bool {
	switch m.kind {
	case matchExact:
		if m.fold {
			return strings.EqualFold(s, m.s)
		}
		return s == m.s
	case matchPrefix:
		if len(s) < len(m.s) {
			return false
		}
		if m.fold {
			return strings.EqualFold(s[:len(m.s)], m.s)
		}
		return s[:len(m.s)] == m.s
	case matchRegex:
		return m.re.MatchString(s)
	}
	return true
}

func compileMatch(sm StringMatch, fold bool) (matcher, error) {
	switch {
	case sm.Exact != "":
		return matcher{kind: matchExact, s: sm.Exact, fold: fold}, nil
	case sm.Prefix != "":
		return matcher{kind: matchPrefix, s: sm.Prefix, fold: fold}, nil
	case sm.Regex != "":
		expr := sm.Regex
		if fold {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: matchRegex, re: re}, nil
	}
	return matcher{}, nil
}

// compile builds the immutable Set from a validated, defaulted Config.
func compile(cfg *Config) (*Set, error) {
	s := &Set{
		cfg:         cfg,
		realmByName: make(map[string]*Realm, len(cfg.Realms)),
		trunkByName: make(map[string]*Trunk, len(cfg.Trunks)),
		noRoute:     Decision{Reject: &RejectConfig{Code: 404, Reason: "Not Found"}},
	}
	for _, rc := range cfg.Realms {
		r := &Realm{
			RealmConfig: rc,
			Advertised:  rc.AdvertisedAddress,
			trunkByAddr: map[netip.AddrPort]*Trunk{},
			trunkByIP:   map[netip.Addr]*Trunk{},
		}
		var err error
		if r.MediaAddr, err = netip.ParseAddr(rc.Media.Address); err != nil {
			return nil, fmt.Errorf("realm %s: media address: %w", rc.Name, err)
		}
		if r.MediaAdvertised, err = netip.ParseAddr(rc.Media.AdvertisedAddress); err != nil {
			return nil, fmt.Errorf("realm %s: media advertised address: %w", rc.Name, err)
		}
		if r.Inbound, err = compileRules(cfg.Normalization, rc.Normalization.Inbound); err != nil {
			return nil, err
		}
		if r.Outbound, err = compileRules(cfg.Normalization, rc.Normalization.Outbound); err != nil {
			return nil, err
		}
		compileAuth(r, &rc)
		s.realms = append(s.realms, r)
		s.realmByName[r.Name] = r
	}
	for _, tc := range cfg.Trunks {
		t := &Trunk{TrunkConfig: tc, Realm: s.realmByName[tc.Realm], failover: map[int]bool{}}
		if t.Realm == nil {
			return nil, fmt.Errorf("trunk %s: unknown realm %q", tc.Name, tc.Realm)
		}
		if t.SRTP == "" {
			t.SRTP = t.Realm.Media.SRTP
		}
		t.SRTPRequired = t.SRTPRequired || t.Realm.Media.SRTPRequired
		for _, gc := range tc.Gateways {
			ap, err := netip.ParseAddrPort(gc.Address)
			if err != nil {
				return nil, fmt.Errorf("trunk %s: gateway: %w", tc.Name, err)
			}
			ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
			t.Gateways = append(t.Gateways, Gateway{Addr: ap, Transport: gc.Transport, Priority: gc.Priority, Weight: gc.Weight})
			if _, dup := t.Realm.trunkByAddr[ap]; !dup {
				t.Realm.trunkByAddr[ap] = t
			}
			if _, dup := t.Realm.trunkByIP[ap.Addr()]; !dup {
				t.Realm.trunkByIP[ap.Addr()] = t
			}
		}
		slices.SortStableFunc(t.Gateways, func(a, b Gateway) int { return a.Priority - b.Priority })
		for _, c := range tc.FailoverCodes {
			t.failover[c] = true
		}
		var err error
		if t.Inbound, err = compileRules(cfg.Normalization, tc.Normalization.Inbound); err != nil {
			return nil, err
		}
		if t.Outbound, err = compileRules(cfg.Normalization, tc.Normalization.Outbound); err != nil {
			return nil, err
		}
		s.trunks = append(s.trunks, t)
		s.trunkByName[t.Name] = t
	}
	s.longestPrefix = cfg.RouteSelection == SelectLongestPrefix
	s.rateTables = make(map[string]*rateTable, len(cfg.RateTables))
	for _, tc := range cfg.RateTables {
		rates := append(slices.Clone(tc.loaded), tc.Rates...)
		s.rateTables[tc.Name] = newRateTable(tc.Name, rates)
	}
	for _, rc := range cfg.Routes {
		r, err := s.compileRoute(cfg, rc)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rc.Name, err)
		}
		s.routes = append(s.routes, r)
	}
	return s, nil
}
