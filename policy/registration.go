package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Registration defaults, as documented on the fields.
const (
	DefaultClientExpires     = 60 * time.Second
	DefaultUpstreamExpires   = 600 * time.Second
	DefaultKeepAlive         = 30 * time.Second
	DefaultKeepAliveMethod   = "options"
	DefaultForwardMode       = "contact"
	DefaultKeepAliveFailures = 3
	DefaultRegisterExpires   = 600 * time.Second
	DefaultRegisterRetryMin  = 5 * time.Second
	DefaultRegisterRetryMax  = 5 * time.Minute
)

// RegistrationConfig is how a registrar realm (registrar: true) treats
// REGISTER beyond keeping the bindings: forwarding to a core registrar with
// caching, and NAT keep-alives to registered contacts.
type RegistrationConfig struct {
	// Forward names a trunk in another realm whose gateway is the users'
	// real registrar. sbcd relays REGISTER there with its own Contact,
	// answers refreshes from its cache and calls for the users come back
	// through sbcd. Empty: bindings are served locally only.
	Forward string `yaml:"forward"`
	// ClientExpires is the longest registration granted to users, so that
	// they refresh (and keep their NAT binding open) at this rate. Default
	// 60s when forwarding, else no cap below the registrar's 7200s.
	ClientExpires time.Duration `yaml:"client_expires"`
	// UpstreamExpires is the Expires sbcd asks of the forward registrar;
	// sbcd refreshes upstream once less than half of it is left. Default
	// 600s; at least client_expires.
	UpstreamExpires time.Duration `yaml:"upstream_expires"`
	// KeepAlive is the interval of keep-alives sent to registered
	// contacts: OPTIONS (or an empty datagram) over UDP, CRLF over TCP and
	// TLS. Default 30s; -1s turns keep-alives off.
	KeepAlive time.Duration `yaml:"keepalive"`
	// KeepAliveMethod is what goes to UDP contacts: options or crlf. Default options.
	KeepAliveMethod string `yaml:"keepalive_method"`
	// KeepAliveFailures is how many OPTIONS keep-alives in a row a
	// contact may leave unanswered (no response within the transaction
	// timeout, or a transport error) before sbcd drops its binding ahead
	// of its expiry. Bindings over TCP and TLS are dropped as soon as
	// their connection closes. Default 3; -1 keeps bindings until they
	// expire.
	KeepAliveFailures int `yaml:"keepalive_failures"`
	// ForwardMode is how calls for forwarded users find their way back
	// through sbcd: contact (sbcd registers its own Contact upstream) or
	// path (the user's Contact is registered with a Path header, RFC
	// 3327, naming sbcd's core-realm address and a token of the user;
	// the core sends calls with that Route and sbcd relays them over the
	// user's own flow). A registrar that refuses Path (420 with
	// Unsupported: path) gets contact rewriting instead. Default contact.
	ForwardMode string `yaml:"forward_mode"`
}

// TrunkRegisterConfig makes sbcd register itself with a trunk (carriers
// that require it) from the trunk realm's listener.
type TrunkRegisterConfig struct {
	// Username is the user part of the registered address of record. Required.
	Username string `yaml:"username"`
	// Password answers digest challenges. Default none (no challenge expected).
	Password string `yaml:"password"`
	// AuthUsername is the digest user name. Default Username.
	AuthUsername string `yaml:"auth_username"`
	// Domain is the host of the address of record (From, To, Request-URI).
	// Default the first gateway's IP.
	Domain string `yaml:"domain"`
	// Expires is the registration interval asked for; sbcd refreshes
	// after 80% of what the registrar grants. Default 600s, at least 60s.
	Expires time.Duration `yaml:"expires"`
	// RetryMin and RetryMax bound the back-off between failed attempts
	// (doubling from RetryMin). Default 5s and 5m.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
}

// applyRegistrationDefaults fills the registration keys of realms and trunks.
func applyRegistrationDefaults(c *Config, dir string) {
	c.StateDir = resolve(dir, c.StateDir)
	for i := range c.Realms {
		g := &c.Realms[i].Registration
		if g.Forward != "" {
			setDur(&g.ClientExpires, DefaultClientExpires)
			setDur(&g.UpstreamExpires, DefaultUpstreamExpires)
			setStr(&g.ForwardMode, DefaultForwardMode)
		}
		if g.KeepAliveFailures == 0 {
			g.KeepAliveFailures = DefaultKeepAliveFailures
		}
		setDur(&g.KeepAlive, DefaultKeepAlive)
		setStr(&g.KeepAliveMethod, DefaultKeepAliveMethod)
	}
	for i := range c.Trunks {
		r := c.Trunks[i].Register
		if r == nil {
			continue
		}
		setStr(&r.AuthUsername, r.Username)
		if r.Domain == "" && len(c.Trunks[i].Gateways) > 0 {
			if ap, err := netip.ParseAddrPort(c.Trunks[i].Gateways[0].Address); err == nil {
				r.Domain = ap.Addr().String()
			}
		}
		setDur(&r.Expires, DefaultRegisterExpires)
		setDur(&r.RetryMin, DefaultRegisterRetryMin)
		setDur(&r.RetryMax, DefaultRegisterRetryMax)
	}
}

// registrationCheck validates the registration keys of realms and trunks;
// it runs after realms and trunks are indexed.
func (v *validator) registrationCheck() {
	for i := range v.cfg.Realms {
		v.oneFamily(i)
	}
	for i := range v.cfg.Realms {
		r := &v.cfg.Realms[i]
		g := r.Registration
		p := fmt.Sprintf("realms[%d].registration", i)
		if g.Forward != "" {
			switch t := v.trunks[g.Forward]; {
			case !r.Registrar:
				v.errAt(p+".forward", "forwarding needs registrar: true on realm %q (sbcd caches the bindings)", r.Name)
			case t == nil:
				v.errAt(p+".forward", "unknown trunk %q", g.Forward)
			case t.Realm == r.Name:
				v.errAt(p+".forward", "trunk %q is in realm %q itself; the registrar must be in another realm", g.Forward, r.Name)
			}
		}
		if g.ClientExpires != 0 && (g.ClientExpires < 10*time.Second || g.ClientExpires > 24*time.Hour) {
			v.errAt(p+".client_expires", "%s is outside 10s-24h", g.ClientExpires)
		}
		if g.UpstreamExpires != 0 {
			if g.UpstreamExpires < 60*time.Second || g.UpstreamExpires > 24*time.Hour {
				v.errAt(p+".upstream_expires", "%s is outside 60s-24h", g.UpstreamExpires)
			} else if g.UpstreamExpires < g.ClientExpires {
				v.errAt(p+".upstream_expires", "%s is shorter than client_expires %s", g.UpstreamExpires, g.ClientExpires)
			}
		}
		if g.KeepAlive < 0 && g.KeepAlive != -time.Second {
			v.errAt(p+".keepalive", "%s is negative; use -1s to turn keep-alives off", g.KeepAlive)
		} else if g.KeepAlive > 0 && g.KeepAlive < time.Second {
			v.errAt(p+".keepalive", "%s is below 1s", g.KeepAlive)
		}
		v.enum(p+".keepalive_method", g.KeepAliveMethod, "options", "crlf")
		if g.KeepAliveFailures != -1 && (g.KeepAliveFailures < 1 || g.KeepAliveFailures > 100) {
			v.errAt(p+".keepalive_failures", "%d is outside 1-100; use -1 to keep bindings until they expire", g.KeepAliveFailures)
		}
		if g.ForwardMode != "" {
			if g.Forward == "" {
				v.errAt(p+".forward_mode", "forward_mode needs forward (a core registrar)")
			} else {
				v.enum(p+".forward_mode", g.ForwardMode, "contact", "path")
			}
		}
	}
	for i := range v.cfg.Trunks {
		r := v.cfg.Trunks[i].Register
		if r == nil {
			continue
		}
		p := fmt.Sprintf("trunks[%d].register", i)
		if r.Username == "" {
			v.errAt(p+".username", "username is required")
		}
		for _, f := range []struct{ key, val string }{{"username", r.Username}, {"auth_username", r.AuthUsername}, {"password", r.Password}, {"domain", r.Domain}} {
			if strings.ContainsAny(f.val, "\r\n\x00\"") {
				v.errAt(p+"."+f.key, "must not contain CR, LF, NUL or '\"'")
			}
		}
		if strings.ContainsAny(r.Username, " @:;<>") {
			v.errAt(p+".username", "%q is not a SIP user part (no spaces, '@', ':', ';', '<' or '>')", r.Username)
		}
		if r.Domain != "" && !strings.ContainsAny(r.Domain, "\r\n\x00\"") {
			v.advertised(p+".domain", r.Domain)
		}
		if r.Expires < 60*time.Second || r.Expires > 24*time.Hour {
			v.errAt(p+".expires", "%s is outside 60s-24h", r.Expires)
		}
		if r.RetryMin < time.Second {
			v.errAt(p+".retry_min", "%s is below 1s", r.RetryMin)
		}
		if r.RetryMax < r.RetryMin {
			v.errAt(p+".retry_max", "%s is shorter than retry_min %s", r.RetryMax, r.RetryMin)
		}
	}
}

// oneFamily checks that a realm's listeners are all IPv4 or all IPv6: a
// realm has one advertised address for Via and Contact, and requests
// leave from its listener of the transport, so a realm cannot speak both
// families. Dual-stack service is two realms.
func (v *validator) oneFamily(i int) {
	r := &v.cfg.Realms[i]
	first := -1
	var is6 bool
	for j, l := range r.Listeners {
		ap, err := netip.ParseAddrPort(l.Address)
		if err != nil {
			continue // reported by the listener check
		}
		six := ap.Addr().Unmap().Is6()
		if first < 0 {
			first, is6 = j, six
			continue
		}
		if six != is6 {
			v.errAt(fmt.Sprintf("realms[%d].listeners[%d].address", i, j),
				"%s is not the same IP family as listeners[%d]; a realm speaks one family: put IPv6 and IPv4 listeners in realms of their own", l.Address, first)
			return
		}
	}
}
