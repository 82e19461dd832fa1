package policy

import (
	"fmt"
	"net/netip"
	"time"
)

// TURN defaults.
const (
	DefaultTURNRealm          = "openborder"
	DefaultTURNRelayPortMin   = 40000
	DefaultTURNRelayPortMax   = 44999
	DefaultTURNUserQuota      = 10
	DefaultTURNCredentialTTL  = 12 * time.Hour
	DefaultTURNMaxAllocations = 10000
)

// TURNConfig is the embedded TURN server (RFC 8656) that relays media for
// WebRTC clients that cannot reach sbcd's media ports directly.
type TURNConfig struct {
	// Listeners are the TURN server's sockets. Empty: TURN is off.
	Listeners []TURNListenerConfig `yaml:"listeners"`
	// Realm is the long-term credential realm. Default openborder.
	Realm string `yaml:"realm"`
	// RelayAddress is the IP relayed transport addresses are allocated on.
	// Default: the first listener's IP.
	RelayAddress string `yaml:"relay_address"`
	// RelayPortMin and RelayPortMax bound relay ports (inclusive). They
	// must not overlap any realm's media ports. Default 40000-44999.
	RelayPortMin int `yaml:"relay_port_min"`
	RelayPortMax int `yaml:"relay_port_max"`
	// Users are static long-term credentials.
	Users []TURNUserConfig `yaml:"users"`
	// Secret is the shared secret of TURN REST API credentials
	// (username "expiry-unix-time:user", password
	// base64(HMAC-SHA1(secret, username))). Empty: REST credentials are off.
	// At least 16 characters.
	Secret string `yaml:"secret"`
	// CredentialTTL is how long credentials handed out by the admin API
	// (GET /api/v1/turn/credentials) stay valid. Default 12h.
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// UserQuota bounds the allocations one user may hold at once. Default 10.
	UserQuota int `yaml:"user_quota"`
	// MaxAllocations bounds all allocations. Default 10000.
	MaxAllocations int `yaml:"max_allocations"`
	// AllowPeers are prefixes (CIDR) clients may relay to even though they
	// are in a refused range (loopback, private, link-local, multicast,
	// unspecified, or one of sbcd's own signalling/admin addresses).
	// Default none.
	AllowPeers []string `yaml:"allow_peers"`
}

// TURNListenerConfig is one socket of the TURN server.
type TURNListenerConfig struct {
	// Transport is udp, tcp or tls. Required.
	Transport string `yaml:"transport"`
	// Address is ip:port. Required.
	Address string `yaml:"address"`
	// CertFile and KeyFile are PEM files, required for tls.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// TURNUserConfig is one static TURN credential.
type TURNUserConfig struct {
	// Name is the username. Required, unique.
	Name string `yaml:"name"`
	// Password is the password. Required.
	Password string `yaml:"password"`
}

// Enabled reports whether the TURN server runs.
func (t *TURNConfig) Enabled() bool { return len(t.Listeners) > 0 }

// AllowedPeers returns the parsed allow_peers prefixes (valid after Load).
func (t *TURNConfig) AllowedPeers() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range t.AllowPeers {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (t *TURNConfig) applyDefaults(dir string) {
	if !t.Enabled() {
		return
	}
	setStr(&t.Realm, DefaultTURNRealm)
	if t.RelayAddress == "" {
		if ap, err := netip.ParseAddrPort(t.Listeners[0].Address); err == nil {
			t.RelayAddress = ap.Addr().String()
		}
	}
	setInt(&t.RelayPortMin, DefaultTURNRelayPortMin)
	setInt(&t.RelayPortMax, DefaultTURNRelayPortMax)
	setDur(&t.CredentialTTL, DefaultTURNCredentialTTL)
	setInt(&t.UserQuota, DefaultTURNUserQuota)
	setInt(&t.MaxAllocations, DefaultTURNMaxAllocations)
	for i := range t.Listeners {
		l := &t.Listeners[i]
		l.CertFile = resolve(dir, l.CertFile)
		l.KeyFile = resolve(dir, l.KeyFile)
	}
}

// turn checks the turn section.
func (v *validator) turn() {
	t := &v.cfg.TURN
	if !t.Enabled() {
		if len(t.Users) > 0 || t.Secret != "" || t.RelayAddress != "" || len(t.AllowPeers) > 0 {
			v.errAt("turn.listeners", "at least one listener is required when turn is configured")
		}
		return
	}
	seen := map[string]string{}
	for i, l := range t.Listeners {
		p := fmt.Sprintf("turn.listeners[%d]", i)
		v.enum(p+".transport", l.Transport, "udp", "tcp", "tls")
		if l.Address == "" {
			v.errAt(p+".address", "address is required")
		} else if _, ok := v.addrPort(p+".address", l.Address); ok {
			key := "udp " + l.Address
			if l.Transport != "udp" {
				key = "tcp " + l.Address
			}
			if prev, dup := seen[key]; dup {
				v.errAt(p+".address", "%s %s is already used by %s", l.Transport, l.Address, prev)
			}
			seen[key] = p
		}
		if l.Transport == "tls" {
			v.readable(p+".cert_file", "cert_file", l.CertFile)
			v.readable(p+".key_file", "key_file", l.KeyFile)
		} else if l.CertFile != "" || l.KeyFile != "" {
			v.errAt(p+".cert_file", "cert_file and key_file apply only to transport tls")
		}
	}
	if a, err := netip.ParseAddr(t.RelayAddress); err != nil {
		v.errAt("turn.relay_address", "%q is not a literal IP address", t.RelayAddress)
	} else if a.IsUnspecified() {
		v.errAt("turn.relay_address", "%s cannot be given to clients as a relayed address", a)
	}
	switch {
	case t.RelayPortMin < 1024 || t.RelayPortMin > 65535:
		v.errAt("turn.relay_port_min", "%d is outside 1024-65535", t.RelayPortMin)
	case t.RelayPortMax < 1024 || t.RelayPortMax > 65535:
		v.errAt("turn.relay_port_max", "%d is outside 1024-65535", t.RelayPortMax)
	case t.RelayPortMax < t.RelayPortMin:
		v.errAt("turn.relay_port_max", "%d is below relay_port_min %d", t.RelayPortMax, t.RelayPortMin)
	default:
		for i, r := range v.cfg.Realms {
			if t.RelayPortMin <= r.Media.PortMax && r.Media.PortMin <= t.RelayPortMax {
				v.errAt("turn.relay_port_min", "relay ports %d-%d overlap media ports %d-%d of realms[%d] (%s)",
					t.RelayPortMin, t.RelayPortMax, r.Media.PortMin, r.Media.PortMax, i, r.Name)
				break
			}
		}
	}
	users := map[string]bool{}
	for i, u := range t.Users {
		p := fmt.Sprintf("turn.users[%d]", i)
		switch {
		case u.Name == "":
			v.errAt(p+".name", "name is required")
		case users[u.Name]:
			v.errAt(p+".name", "user %q is defined twice", u.Name)
		}
		users[u.Name] = true
		if u.Password == "" {
			v.errAt(p+".password", "password is required")
		}
	}
	if t.Secret != "" && len(t.Secret) < 16 {
		v.errAt("turn.secret", "the shared secret must have at least 16 characters")
	}
	if len(t.Users) == 0 && t.Secret == "" {
		v.errAt("turn.users", "turn needs users or a secret: nobody could authenticate")
	}
	if t.CredentialTTL < time.Minute {
		v.errAt("turn.credential_ttl", "%s is below the minimum of 1m", t.CredentialTTL)
	}
	if t.UserQuota < 1 {
		v.errAt("turn.user_quota", "%d must be at least 1", t.UserQuota)
	}
	if t.MaxAllocations < 1 {
		v.errAt("turn.max_allocations", "%d must be at least 1", t.MaxAllocations)
	}
	for i, s := range t.AllowPeers {
		if _, err := netip.ParsePrefix(s); err != nil {
			v.errAt(fmt.Sprintf("turn.allow_peers[%d]", i), "%q is not a CIDR prefix like 127.0.0.0/8", s)
		}
	}
}
