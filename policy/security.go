package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// SecurityConfig is the process-wide part of the border defence: the
// sanity limits every message is checked against before it is parsed,
// automatic blacklisting and scanner detection. Realms and trunks add
// their own ACLs and rate limits (RealmSecurityConfig, TrunkSecurityConfig).
type SecurityConfig struct {
	// Sanity bounds the size and shape of every message.
	Sanity SanityConfig `yaml:"sanity"`
	// Blacklist blocks sources automatically for a while.
	Blacklist BlacklistConfig `yaml:"blacklist"`
	// Scanner detects SIP scanners by User-Agent and by behaviour.
	Scanner ScannerConfig `yaml:"scanner"`
	// TCP bounds stream connections (TCP and TLS listeners).
	TCP TCPGuardConfig `yaml:"tcp"`
}

// SanityConfig bounds messages. A message over a limit is refused before
// sipgo parses it: answered 400 (513 when too large, 413 when the body is),
// or dropped when no response can be addressed.
type SanityConfig struct {
	// MaxMessageBytes bounds a whole message. Default 16384 (at most 65535, sipgo's own limit).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxHeaders bounds the number of header lines. Default 128.
	MaxHeaders int `yaml:"max_headers"`
	// MaxHeaderBytes bounds one header line (folded lines included). Default 2048.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds the body. Default 8192.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxVia bounds the number of Via values. Default 64.
	MaxVia int `yaml:"max_via"`
	// MaxForwards is the largest Max-Forwards accepted. Default 255.
	MaxForwards int `yaml:"max_forwards"`
	// MaxSDPMedia bounds the m= lines of an SDP body. Default 8.
	MaxSDPMedia int `yaml:"max_sdp_media"`
}

// BlacklistConfig blocks sources that misbehave.
type BlacklistConfig struct {
	// Duration is how long an automatic entry blocks its source. Default 10m.
	Duration time.Duration `yaml:"duration"`
	// MaxEntries bounds the blacklist; the entry closest to expiry makes
	// room for a new one. Default 65536.
	MaxEntries int `yaml:"max_entries"`
	// AuthFailures blocks a source after this many failed authentications
	// within Window. Default 10; -1 disables.
	AuthFailures int `yaml:"auth_failures"`
	// RateViolations blocks a source after this many requests refused by a
	// rate limit within Window. Default 200; -1 disables.
	RateViolations int `yaml:"rate_violations"`
	// Window is the span the counters above are kept over. Default 60s.
	Window time.Duration `yaml:"window"`
}

// ScannerConfig detects scanners.
type ScannerConfig struct {
	// Disabled turns scanner detection off. Default false.
	Disabled bool `yaml:"disabled"`
	// UserAgents are case-insensitive substrings of User-Agent (or Server)
	// values that identify a scanner; the source is blocked at its first
	// request. Default: friendly-scanner, sipvicious, sipcli, sip-scan,
	// sipsak, sundayddr, iWar, VaxSIPUserAgent, pplsip, smap, nmap.
	UserAgents []string `yaml:"user_agents"`
	// UnknownUsers blocks a source whose out-of-dialog requests got 404 for
	// this many distinct users within Window. Default 10; -1 disables.
	UnknownUsers int `yaml:"unknown_users"`
	// DistinctUsers blocks a source that addresses this many distinct
	// users with REGISTER (To) or OPTIONS (Request-URI) within Window,
	// whatever the answers were. Default 100; -1 disables.
	DistinctUsers int `yaml:"distinct_users"`
	// Window is the span the counters above are kept over. Default 60s.
	Window time.Duration `yaml:"window"`
}

// TCPGuardConfig bounds stream connections.
type TCPGuardConfig struct {
	// IdleTimeout closes a connection that carried nothing for this long. Default 5m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MessageTimeout closes a connection whose message started but did
	// not complete within this time (slowloris). Default 10s.
	MessageTimeout time.Duration `yaml:"message_timeout"`
	// MaxPerSource bounds the concurrent connections of one source IP. Default 64.
	MaxPerSource int `yaml:"max_per_source"`
}

// RealmSecurityConfig is a realm's access control and rate limits.
type RealmSecurityConfig struct {
	// ACL says which sources may send to the realm.
	ACL ACLConfig `yaml:"acl"`
	// TrunksOnly refuses requests from any source that is neither a
	// gateway of one of the realm's trunks nor in a trunk's acl.allow.
	// Default false.
	TrunksOnly bool `yaml:"trunks_only"`
	// RateLimit bounds the realm's traffic.
	RateLimit RealmRateConfig `yaml:"rate_limit"`
}

// TrunkSecurityConfig is a trunk's access control and rate limit.
type TrunkSecurityConfig struct {
	// ACL: Allow lists further peers (besides the gateways) whose requests
	// count as this trunk's; Deny refuses sources even within Allow.
	ACL ACLConfig `yaml:"acl"`
	// RateLimit bounds the trunk's traffic as a whole.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
}

// ACLConfig is an allow/deny list of CIDRs (IPv4 and IPv6; a bare IP is a /32 or /128).
type ACLConfig struct {
	// Allow, when not empty, admits only these sources (and the gateways
	// of the realm's trunks). Default: everyone.
	Allow []string `yaml:"allow"`
	// Deny refuses these sources; deny wins over allow. Default none.
	Deny []string `yaml:"deny"`
	// Action is drop (silently) or reject (403). Default drop.
	Action string `yaml:"action"`
}

// RealmRateConfig holds a realm's token buckets by scope.
type RealmRateConfig struct {
	// Source limits each source IP.
	Source RateLimitConfig `yaml:"source"`
	// Realm limits the realm as a whole.
	Realm RateLimitConfig `yaml:"realm"`
	// Account limits each From user (per realm).
	Account RateLimitConfig `yaml:"account"`
	// Action for refused out-of-dialog requests: drop or reject (503 with
	// Retry-After). In-dialog requests over budget are always dropped. Default drop.
	Action string `yaml:"action"`
}

// RateLimitConfig is a set of token buckets, each a sustained rate per second
// with a burst of Burst seconds' worth. Zero means no limit.
type RateLimitConfig struct {
	// Requests bounds out-of-dialog requests of every method.
	Requests int `yaml:"requests"`
	// Calls bounds new INVITEs (also counted in Requests).
	Calls int `yaml:"calls"`
	// Registers bounds REGISTERs (also counted in Requests).
	Registers int `yaml:"registers"`
	// InDialog bounds requests inside dialogs, ACK and CANCEL, and
	// responses: a budget of its own so a flood of new requests cannot
	// starve established calls.
	InDialog int `yaml:"in_dialog"`
	// Burst is how many seconds of rate a bucket holds. Default 2.
	Burst int `yaml:"burst"`
}

// Security defaults.
const (
	DefaultMaxMessageBytes   = 16384
	DefaultMaxHeaders        = 128
	DefaultMaxHeaderBytes    = 2048
	DefaultMaxBodyBytes      = 8192
	DefaultMaxVia            = 64
	DefaultMaxForwardsLimit  = 255
	DefaultMaxSDPMedia       = 8
	DefaultBlacklistDuration = 10 * time.Minute
	DefaultBlacklistEntries  = 65536
	DefaultAuthFailures      = 10
	DefaultRateViolations    = 200
	DefaultSecurityWindow    = time.Minute
	DefaultUnknownUsers      = 10
	DefaultDistinctUsers     = 100
	DefaultTCPIdleTimeout    = 5 * time.Minute
	DefaultTCPMessageTimeout = 10 * time.Second
	DefaultTCPMaxPerSource   = 64
	DefaultRateBurst         = 2
	DefaultACLAction         = "drop"
)

// DefaultScannerUserAgents are the User-Agent substrings of common scanners.
func DefaultScannerUserAgents() []string {
	return []string{"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipsak", "sundayddr",
		"iwar", "vaxsipuseragent", "pplsip", "smap", "nmap"}
}

func applySecurityDefaults(c *Config) {
	s := &c.Security
	setInt(&s.Sanity.MaxMessageBytes, DefaultMaxMessageBytes)
	setInt(&s.Sanity.MaxHeaders, DefaultMaxHeaders)
	setInt(&s.Sanity.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setInt(&s.Sanity.MaxBodyBytes, DefaultMaxBodyBytes)
	setInt(&s.Sanity.MaxVia, DefaultMaxVia)
	setInt(&s.Sanity.MaxForwards, DefaultMaxForwardsLimit)
	setInt(&s.Sanity.MaxSDPMedia, DefaultMaxSDPMedia)
	setDur(&s.Blacklist.Duration, DefaultBlacklistDuration)
	setInt(&s.Blacklist.MaxEntries, DefaultBlacklistEntries)
	setInt(&s.Blacklist.AuthFailures, DefaultAuthFailures)
	setInt(&s.Blacklist.RateViolations, DefaultRateViolations)
	setDur(&s.Blacklist.Window, DefaultSecurityWindow)
	if len(s.Scanner.UserAgents) == 0 {
		s.Scanner.UserAgents = DefaultScannerUserAgents()
	}
	setInt(&s.Scanner.UnknownUsers, DefaultUnknownUsers)
	setInt(&s.Scanner.DistinctUsers, DefaultDistinctUsers)
	setDur(&s.Scanner.Window, DefaultSecurityWindow)
	setDur(&s.TCP.IdleTimeout, DefaultTCPIdleTimeout)
	setDur(&s.TCP.MessageTimeout, DefaultTCPMessageTimeout)
	setInt(&s.TCP.MaxPerSource, DefaultTCPMaxPerSource)
	for i := range c.Realms {
		rs := &c.Realms[i].Security
		setStr(&rs.ACL.Action, DefaultACLAction)
		setStr(&rs.RateLimit.Action, DefaultACLAction)
		setInt(&rs.RateLimit.Source.Burst, DefaultRateBurst)
		setInt(&rs.RateLimit.Realm.Burst, DefaultRateBurst)
		setInt(&rs.RateLimit.Account.Burst, DefaultRateBurst)
	}
	for i := range c.Trunks {
		ts := &c.Trunks[i].Security
		setStr(&ts.ACL.Action, DefaultACLAction)
		setInt(&ts.RateLimit.Burst, DefaultRateBurst)
	}
}

// ParsePrefix reads an ACL entry: a CIDR or a bare IP (a host prefix).
// IPv4-mapped IPv6 entries are reduced to IPv4.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (v *validator) security() {
	s := v.cfg.Security
	v.between("security.sanity.max_message_bytes", s.Sanity.MaxMessageBytes, 512, 65535)
	v.between("security.sanity.max_headers", s.Sanity.MaxHeaders, 8, 1024)
	v.between("security.sanity.max_header_bytes", s.Sanity.MaxHeaderBytes, 128, 65535)
	v.between("security.sanity.max_body_bytes", s.Sanity.MaxBodyBytes, 0, 65535)
	v.between("security.sanity.max_via", s.Sanity.MaxVia, 1, 1024)
	v.between("security.sanity.max_forwards", s.Sanity.MaxForwards, 1, 255)
	v.between("security.sanity.max_sdp_media", s.Sanity.MaxSDPMedia, 1, 64)
	v.atLeast("security.blacklist.duration", s.Blacklist.Duration, time.Second)
	v.between("security.blacklist.max_entries", s.Blacklist.MaxEntries, 1, 1<<24)
	v.threshold("security.blacklist.auth_failures", s.Blacklist.AuthFailures)
	v.threshold("security.blacklist.rate_violations", s.Blacklist.RateViolations)
	v.atLeast("security.blacklist.window", s.Blacklist.Window, time.Second)
	for i, ua := range s.Scanner.UserAgents {
		if strings.TrimSpace(ua) == "" {
			v.errAt(fmt.Sprintf("security.scanner.user_agents[%d]", i), "user agent must not be empty")
		}
	}
	v.threshold("security.scanner.unknown_users", s.Scanner.UnknownUsers)
	v.threshold("security.scanner.distinct_users", s.Scanner.DistinctUsers)
	if s.Scanner.UnknownUsers > 256 || s.Scanner.DistinctUsers > 256 {
		if s.Scanner.UnknownUsers > 256 {
			v.errAt("security.scanner.unknown_users", "%d is above the maximum of 256", s.Scanner.UnknownUsers)
		}
		if s.Scanner.DistinctUsers > 256 {
			v.errAt("security.scanner.distinct_users", "%d is above the maximum of 256", s.Scanner.DistinctUsers)
		}
	}
	v.atLeast("security.scanner.window", s.Scanner.Window, time.Second)
	v.atLeast("security.tcp.idle_timeout", s.TCP.IdleTimeout, time.Second)
	v.atLeast("security.tcp.message_timeout", s.TCP.MessageTimeout, 100*time.Millisecond)
	v.between("security.tcp.max_per_source", s.TCP.MaxPerSource, 1, 1<<20)
	for i, r := range v.cfg.Realms {
		p := fmt.Sprintf("realms[%d].security", i)
		v.acl(p+".acl", r.Security.ACL)
		v.enum(p+".rate_limit.action", r.Security.RateLimit.Action, "drop", "reject")
		v.rateLimit(p+".rate_limit.source", r.Security.RateLimit.Source)
		v.rateLimit(p+".rate_limit.realm", r.Security.RateLimit.Realm)
		v.rateLimit(p+".rate_limit.account", r.Security.RateLimit.Account)
	}
	for i, t := range v.cfg.Trunks {
		p := fmt.Sprintf("trunks[%d].security", i)
		v.acl(p+".acl", t.Security.ACL)
		v.rateLimit(p+".rate_limit", t.Security.RateLimit)
	}
}

func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errAt(path, "%d is outside %d-%d", n, lo, hi)
	}
}

func (v *validator) atLeast(path string, d, min time.Duration) {
	if d < min {
		v.errAt(path, "%s is below the minimum of %s", d, min)
	}
}

// threshold is a positive count or -1 (disabled).
func (v *validator) threshold(path string, n int) {
	if n < -1 || n == 0 {
		v.errAt(path, "%d must be a positive count or -1 (disabled)", n)
	}
}

func (v *validator) acl(path string, a ACLConfig) {
	for i, s := range a.Allow {
		if _, err := ParsePrefix(s); err != nil {
			v.errAt(fmt.Sprintf("%s.allow[%d]", path, i), "%q is not an IP address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)", s)
		}
	}
	for i, s := range a.Deny {
		if _, err := ParsePrefix(s); err != nil {
			v.errAt(fmt.Sprintf("%s.deny[%d]", path, i), "%q is not an IP address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)", s)
		}
	}
	v.enum(path+".action", a.Action, "drop", "reject")
}

func (v *validator) rateLimit(path string, r RateLimitConfig) {
	for _, f := range []struct {
		key string
		n   int
	}{{"requests", r.Requests}, {"calls", r.Calls}, {"registers", r.Registers}, {"in_dialog", r.InDialog}} {
		if f.n < 0 || f.n > 1000000 {
			v.errAt(path+"."+f.key, "%d is outside 0-1000000 (per second; 0 means no limit)", f.n)
		}
	}
	v.between(path+".burst", r.Burst, 1, 3600)
}
