package policy

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"time"
)

// AuthConfig is digest authentication (RFC 3261 section 22, RFC 8760) of
// requests received in a realm. Requests from the realm's trunks (matched
// by source address) are not challenged.
type AuthConfig struct {
	// Realm is the digest realm named in challenges and hashed into every
	// HA1. Default: the realm's name.
	Realm string `yaml:"realm"`
	// Algorithms are offered in this order: SHA-256 and/or MD5. Default [SHA-256, MD5].
	Algorithms []string `yaml:"algorithms"`
	// NonceTTL is how long a nonce is accepted; an older one with a correct
	// response gets a new challenge with stale=true. Default 5m.
	NonceTTL time.Duration `yaml:"nonce_ttl"`
	// Methods are the out-of-dialog requests that must authenticate.
	// Default [INVITE, REGISTER, MESSAGE, SUBSCRIBE, PUBLISH, NOTIFY, REFER].
	Methods []string `yaml:"methods"`
	// CredentialsFile holds more users, one per line:
	// user:realm:md5-ha1[:sha256-ha1] (the first three fields are the
	// htdigest format). It is read again on every reload. Default none.
	CredentialsFile string `yaml:"credentials_file"`
	// Users are accounts defined in the policy itself.
	Users []AccountConfig `yaml:"users"`
	// AccountLimits apply to every account that sets no limit of its own.
	AccountLimits AccountLimitsConfig `yaml:"account_limits"`

	fileUsers []AccountConfig // read from CredentialsFile by validation
}

// AccountConfig is one user that may authenticate. Only HA1 hashes are
// stored: ha1_md5 = md5(user:realm:password), ha1_sha256 the same with
// SHA-256 (lower-case hex), e.g. `printf %s 'alice:sbc:pw' | md5sum`.
type AccountConfig struct {
	// Name is the digest username. Required, unique in the realm.
	Name string `yaml:"name"`
	// HA1MD5 and HA1SHA256 are the hashes; at least one is required.
	HA1MD5    string `yaml:"ha1_md5"`
	HA1SHA256 string `yaml:"ha1_sha256"`
	// MaxCalls, MaxCPS and MaxRegistrations override account_limits (0: use them).
	MaxCalls         int `yaml:"max_calls"`
	MaxCPS           int `yaml:"max_cps"`
	MaxRegistrations int `yaml:"max_registrations"`

	line int // line in the credentials file, 0 for policy users
}

// AccountLimitsConfig are per-account limits. 0 means unlimited.
type AccountLimitsConfig struct {
	// MaxCalls is the number of concurrent calls an account may have.
	MaxCalls int `yaml:"max_calls"`
	// MaxCPS is the number of new calls per second an account may start.
	MaxCPS int `yaml:"max_cps"`
	// MaxRegistrations is the number of contacts an account may register.
	MaxRegistrations int `yaml:"max_registrations"`
}

// LimitsConfig is call admission control for a realm or trunk. 0 means unlimited.
type LimitsConfig struct {
	// MaxCalls is the number of concurrent calls (in either direction).
	MaxCalls int `yaml:"max_calls"`
	// MaxCPS is the number of new calls per second (in either direction).
	MaxCPS int `yaml:"max_cps"`
}

// FraudConfig is toll-fraud protection: limits per account and destination
// prefix whose breach blocks the account.
type FraudConfig struct {
	// BlockTime is how long an account that breached a rule is refused. Default 1h.
	BlockTime time.Duration `yaml:"block_time"`
	// Rules are checked for every new call; each applies to the calls whose
	// dialled number (Request-URI user as received) starts with its prefix.
	Rules []FraudRuleConfig `yaml:"rules"`
}

// FraudRuleConfig limits one class of destinations (premium, international ...) per account.
type FraudRuleConfig struct {
	// Name labels the rule in logs, metrics and the Reason header. Required, unique.
	Name string `yaml:"name"`
	// Prefix selects dialled numbers. Required; the longest matching prefix wins.
	Prefix string `yaml:"prefix"`
	// CallsPerHour bounds calls an account starts to the prefix in a sliding hour. 0: unlimited.
	CallsPerHour int `yaml:"calls_per_hour"`
	// MaxCalls bounds an account's concurrent calls to the prefix. 0: unlimited.
	MaxCalls int `yaml:"max_calls"`
	// CostPerMinute is the price of a minute to the prefix (any currency).
	CostPerMinute float64 `yaml:"cost_per_minute"`
	// MaxCostPerHour bounds the cost an account runs up to the prefix in a
	// sliding hour, counting calls still in progress. 0: unlimited.
	MaxCostPerHour float64 `yaml:"max_cost_per_hour"`
}

// Defaults of the authentication, admission and fraud sections.
const (
	DefaultNonceTTL       = 5 * time.Minute
	DefaultFraudBlockTime = time.Hour
)

// DefaultAuthAlgorithms are offered when a realm lists none.
func DefaultAuthAlgorithms() []string { return []string{"SHA-256", "MD5"} }

// DefaultAuthMethods must authenticate when a realm lists none.
func DefaultAuthMethods() []string {
	return []string{"INVITE", "REGISTER", "MESSAGE", "SUBSCRIBE", "PUBLISH", "NOTIFY", "REFER"}
}

// Account is a compiled user of a realm: its HA1 hashes and effective limits.
type Account struct {
	Name             string
	HA1MD5           string
	HA1SHA256        string
	MaxCalls         int
	MaxCPS           int
	MaxRegistrations int
}

// Auth is a realm's compiled authentication section.
type Auth struct {
	Realm      string
	Algorithms []string
	NonceTTL   time.Duration
	methods    map[string]bool
	accounts   map[string]*Account
}

// Requires reports whether out-of-dialog requests of method must authenticate.
func (a *Auth) Requires(method string) bool { return a != nil && a.methods[method] }

// Account returns the named account, or nil.
func (a *Auth) Account(name string) *Account {
	if a == nil {
		return nil
	}
	return a.accounts[name]
}

// Accounts is the number of accounts.
func (a *Auth) Accounts() int { return len(a.accounts) }

// IsEmergency reports whether a dialled number is one of the realm's emergency numbers.
func (r *Realm) IsEmergency(user string) bool { return r.emergency[user] }

// FraudRule returns the rule with the longest prefix of number, or nil.
func (s *Set) FraudRule(number string) *FraudRuleConfig {
	var best *FraudRuleConfig
	for i := range s.cfg.Fraud.Rules {
		r := &s.cfg.Fraud.Rules[i]
		if strings.HasPrefix(number, r.Prefix) && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best = r
		}
	}
	return best
}

func applyAuthDefaults(c *Config, dir string) {
	setDur(&c.Fraud.BlockTime, DefaultFraudBlockTime)
	for i := range c.Realms {
		a := c.Realms[i].Auth
		if a == nil {
			continue
		}
		setStr(&a.Realm, c.Realms[i].Name)
		if len(a.Algorithms) == 0 {
			a.Algorithms = DefaultAuthAlgorithms()
		}
		setDur(&a.NonceTTL, DefaultNonceTTL)
		if len(a.Methods) == 0 {
			a.Methods = DefaultAuthMethods()
		}
		a.CredentialsFile = resolve(dir, a.CredentialsFile)
	}
	for i := range c.Trunks {
		c.Trunks[i].TLS.CAFile = resolve(dir, c.Trunks[i].TLS.CAFile)
	}
}

// authMethods may be listed under auth.methods: out-of-dialog requests
// sbcd handles (ACK and CANCEL cannot be challenged).
var authMethods = []string{"INVITE", "REGISTER", "MESSAGE", "SUBSCRIBE", "PUBLISH", "NOTIFY", "REFER", "OPTIONS", "INFO", "UPDATE"}

func (v *validator) authCheck() {
	for i := range v.cfg.Realms {
		r := &v.cfg.Realms[i]
		p := fmt.Sprintf("realms[%d]", i)
		v.limits(p+".limits", r.Limits)
		seen := map[string]bool{}
		for j, n := range r.Emergency {
			ep := fmt.Sprintf("%s.emergency[%d]", p, j)
			switch {
			case n == "" || strings.ContainsAny(n, " \t\r\n@;:"):
				v.errAt(ep, "emergency number %q must be a dialled number such as 911 or 112", n)
			case seen[n]:
				v.errAt(ep, "emergency number %q listed twice", n)
			case !v.emergencyRouted(r.Name, n):
				v.errAt(ep, "emergency number %q has no route from realm %q that always applies: "+
					"add a route whose match is only source_realm and ruri_user (exact, prefix or regex)", n, r.Name)
			}
			seen[n] = true
		}
		if r.Auth != nil {
			v.auth(p+".auth", r.Auth, r.Registrar)
		}
	}
	for i := range v.cfg.Trunks {
		v.limits(fmt.Sprintf("trunks[%d].limits", i), v.cfg.Trunks[i].Limits)
		v.trunkTLS(fmt.Sprintf("trunks[%d].tls", i), &v.cfg.Trunks[i])
	}
	f := v.cfg.Fraud
	v.positive("fraud.block_time", f.BlockTime)
	names := map[string]string{}
	prefixes := map[string]string{}
	for i, r := range f.Rules {
		p := fmt.Sprintf("fraud.rules[%d]", i)
		v.name(p+".name", "fraud rule", r.Name, names)
		switch {
		case r.Prefix == "":
			v.errAt(p+".prefix", "prefix is required (the start of the dialled numbers the rule covers)")
		case strings.ContainsAny(r.Prefix, " \t\r\n@;:"):
			v.errAt(p+".prefix", "prefix %q must be the start of a dialled number", r.Prefix)
		case prefixes[r.Prefix] != "":
			v.errAt(p+".prefix", "prefix %q is already covered by %s", r.Prefix, prefixes[r.Prefix])
		default:
			prefixes[r.Prefix] = p
		}
		v.nonNegative(p+".calls_per_hour", r.CallsPerHour)
		v.nonNegative(p+".max_calls", r.MaxCalls)
		for _, fv := range []struct {
			path string
			val  float64
		}{{p + ".cost_per_minute", r.CostPerMinute}, {p + ".max_cost_per_hour", r.MaxCostPerHour}} {
			if fv.val < 0 || math.IsNaN(fv.val) || math.IsInf(fv.val, 0) {
				v.errAt(fv.path, "%v must be a non-negative number", fv.val)
			}
		}
		if r.MaxCostPerHour > 0 && r.CostPerMinute == 0 {
			v.errAt(p+".max_cost_per_hour", "needs cost_per_minute to count cost")
		}
		if r.CallsPerHour == 0 && r.MaxCalls == 0 && r.MaxCostPerHour == 0 {
			v.errAt(p, "rule sets no limit: set calls_per_hour, max_calls or max_cost_per_hour")
		}
	}
}

func (v *validator) nonNegative(path string, n int) {
	if n < 0 {
		v.errAt(path, "%d must not be negative", n)
	}
}

func (v *validator) limits(p string, l LimitsConfig) {
	v.nonNegative(p+".max_calls", l.MaxCalls)
	v.nonNegative(p+".max_cps", l.MaxCPS)
}

func (v *validator) auth(p string, a *AuthConfig, registrar bool) {
	if a.Realm == "" || strings.ContainsAny(a.Realm, "\"\\\r\n\x00") {
		v.errAt(p+".realm", "digest realm %q must be non-empty without quotes, backslashes or line breaks", a.Realm)
	}
	seenAlg := map[string]bool{}
	for i, alg := range a.Algorithms {
		ap := fmt.Sprintf("%s.algorithms[%d]", p, i)
		v.enum(ap, alg, "SHA-256", "MD5")
		if seenAlg[alg] {
			v.errAt(ap, "algorithm %s listed twice", alg)
		}
		seenAlg[alg] = true
	}
	if a.NonceTTL < time.Second || a.NonceTTL > 24*time.Hour {
		v.errAt(p+".nonce_ttl", "%s is outside 1s-24h", a.NonceTTL)
	}
	for i, m := range a.Methods {
		if !oneOf(m, authMethods...) {
			v.errAt(fmt.Sprintf("%s.methods[%d]", p, i), "%q is not one of %s", m, quoteList(authMethods...))
		}
	}
	lp := p + ".account_limits"
	v.nonNegative(lp+".max_calls", a.AccountLimits.MaxCalls)
	v.nonNegative(lp+".max_cps", a.AccountLimits.MaxCPS)
	v.nonNegative(lp+".max_registrations", a.AccountLimits.MaxRegistrations)
	if a.AccountLimits.MaxRegistrations > 0 && !registrar {
		v.errAt(lp+".max_registrations", "applies only to a realm with registrar: true")
	}
	names := map[string]string{}
	for i, u := range a.Users {
		up := fmt.Sprintf("%s.users[%d]", p, i)
		v.name(up+".name", "user", u.Name, names)
		v.account(up, a, u)
	}
	if a.CredentialsFile != "" {
		users, err := readCredentials(a.CredentialsFile, a.Realm)
		if err != nil {
			v.errAt(p+".credentials_file", "%v", err)
		}
		for _, u := range users {
			if prev := names[u.Name]; prev != "" {
				v.errAt(p+".credentials_file", "%s:%d: user %q is already defined at %s", a.CredentialsFile, u.line, u.Name, prev)
				continue
			}
			names[u.Name] = fmt.Sprintf("%s:%d", a.CredentialsFile, u.line)
		}
		a.fileUsers = users
	}
	if len(a.Users) == 0 && a.CredentialsFile == "" {
		v.errAt(p, "auth needs users or a credentials_file")
	}
}

func (v *validator) account(p string, a *AuthConfig, u AccountConfig) {
	if u.HA1MD5 == "" && u.HA1SHA256 == "" {
		v.errAt(p, "user %q needs ha1_md5 or ha1_sha256", u.Name)
	}
	if u.HA1MD5 != "" && !isHex(u.HA1MD5, 16) {
		v.errAt(p+".ha1_md5", "must be 32 hex digits (md5 of user:realm:password)")
	}
	if u.HA1SHA256 != "" && !isHex(u.HA1SHA256, 32) {
		v.errAt(p+".ha1_sha256", "must be 64 hex digits (sha256 of user:realm:password)")
	}
	for _, alg := range a.Algorithms {
		if alg == "SHA-256" && u.HA1SHA256 == "" && len(a.Algorithms) == 1 ||
			alg == "MD5" && u.HA1MD5 == "" && len(a.Algorithms) == 1 {
			v.errAt(p, "user %q has no hash for the only algorithm offered, %s", u.Name, alg)
		}
	}
	v.nonNegative(p+".max_calls", u.MaxCalls)
	v.nonNegative(p+".max_cps", u.MaxCPS)
	v.nonNegative(p+".max_registrations", u.MaxRegistrations)
}

func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n
}

// maxCredentialsFile bounds the credentials file.
const maxCredentialsFile = 64 << 20

// readCredentials reads user:realm:md5-ha1[:sha256-ha1] lines. Lines of
// other realms are skipped (one file may serve several realms); blank
// lines and lines starting with # are ignored.
func readCredentials(file, realm string) ([]AccountConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read credentials_file: %w", unwrapPathErr(err))
	}
	if len(data) > maxCredentialsFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", file, maxCredentialsFile)
	}
	var out []AccountConfig
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		f := strings.Split(s, ":")
		if len(f) != 3 && len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: want user:realm:md5-ha1[:sha256-ha1], got %d fields", file, line, len(f))
		}
		if f[1] != realm {
			continue
		}
		u := AccountConfig{Name: f[0], HA1MD5: strings.ToLower(f[2]), line: line}
		if len(f) == 4 {
			u.HA1SHA256 = strings.ToLower(f[3])
		}
		switch {
		case !nameRE.MatchString(u.Name) && !userRE.MatchString(u.Name):
			return nil, fmt.Errorf("%s:%d: user name %q is not a valid SIP user", file, line, u.Name)
		case u.HA1MD5 != "" && !isHex(u.HA1MD5, 16):
			return nil, fmt.Errorf("%s:%d: md5 HA1 must be 32 hex digits", file, line)
		case u.HA1SHA256 != "" && !isHex(u.HA1SHA256, 32):
			return nil, fmt.Errorf("%s:%d: sha256 HA1 must be 64 hex digits", file, line)
		case u.HA1MD5 == "" && u.HA1SHA256 == "":
			return nil, fmt.Errorf("%s:%d: no HA1 for user %q", file, line, u.Name)
		case seen[u.Name] != 0:
			return nil, fmt.Errorf("%s:%d: user %q already defined on line %d", file, line, u.Name, seen[u.Name])
		}
		seen[u.Name] = line
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", file, line+1, err)
	}
	return out, nil
}

// userRE is the unreserved part of an RFC 3261 user.
var userRE = regexp.MustCompile(`^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,128}$`)

// compileAuth fills a realm's authentication, emergency numbers and limits.
func compileAuth(r *Realm, rc *RealmConfig) {
	r.emergency = make(map[string]bool, len(rc.Emergency))
	for _, n := range rc.Emergency {
		r.emergency[n] = true
	}
	a := rc.Auth
	if a == nil {
		return
	}
	ca := &Auth{Realm: a.Realm, Algorithms: a.Algorithms, NonceTTL: a.NonceTTL,
		methods: map[string]bool{}, accounts: map[string]*Account{}}
	for _, m := range a.Methods {
		ca.methods[m] = true
	}
	lim := a.AccountLimits
	for _, u := range append(append([]AccountConfig(nil), a.Users...), a.fileUsers...) {
		acc := &Account{Name: u.Name, HA1MD5: strings.ToLower(u.HA1MD5), HA1SHA256: strings.ToLower(u.HA1SHA256),
			MaxCalls: u.MaxCalls, MaxCPS: u.MaxCPS, MaxRegistrations: u.MaxRegistrations}
		setInt(&acc.MaxCalls, lim.MaxCalls)
		setInt(&acc.MaxCPS, lim.MaxCPS)
		setInt(&acc.MaxRegistrations, lim.MaxRegistrations)
		ca.accounts[u.Name] = acc
	}
	r.Auth = ca
}

// TrunkTLSConfig is mutual TLS with a trunk's gateways (transport tls).
type TrunkTLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the gateways'
	// certificates. With it, sbcd verifies the certificate a gateway
	// presents as TLS server (outgoing connections) and, with
	// require_client_cert, as TLS client. Default none: not verified.
	CAFile string `yaml:"ca_file"`
	// RequireClientCert refuses TLS connections from the trunk's gateway
	// addresses that present no client certificate signed by ca_file. Default false.
	RequireClientCert bool `yaml:"require_client_cert"`
}

func (v *validator) trunkTLS(p string, t *TrunkConfig) {
	if t.TLS.CAFile != "" {
		if data, err := os.ReadFile(t.TLS.CAFile); err != nil {
			v.errAt(p+".ca_file", "cannot read ca_file: %v", unwrapPathErr(err))
		} else if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(data) {
			v.errAt(p+".ca_file", "%s holds no PEM certificate", t.TLS.CAFile)
		}
	}
	if t.TLS.RequireClientCert && t.TLS.CAFile == "" {
		v.errAt(p+".require_client_cert", "needs ca_file to verify client certificates")
	}
}
