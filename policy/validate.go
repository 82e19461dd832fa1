package policy

import (
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openborder/openborder/cdr"
	"github.com/openborder/openborder/firmware/capture"
)

// validator checks a decoded, defaulted Config and records every problem.
type validator struct {
	*decoder
	cfg *Config
	// realms and trunks index the configs by name (first definition wins).
	realms map[string]*RealmConfig
	trunks map[string]*TrunkConfig
}

// errAt records a problem at path, located at the line of path or its parent.
func (v *validator) errAt(path, format string, args ...any) {
	if v.quiet(path) {
		return
	}
	v.add(pathError{line: v.lineOf(path), path: path, msg: fmt.Sprintf(format, args...)})
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// headerRE is an RFC 3261 token, the syntax of a header name.
var headerRE = regexp.MustCompile("^[A-Za-z0-9.!%*_+`'~-]+$")

// hostRE accepts a DNS name (an IP literal is checked separately).
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$`)

// ownedHeaders are built by the B2BUA on each leg; rules may not touch them.
// Compact forms are included. From and To users are rewritten with rewrite_uri.
var ownedHeaders = map[string]string{
	"via": "Via", "v": "Via", "call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq",
	"from": "From", "f": "From", "to": "To", "t": "To", "contact": "Contact", "m": "Contact",
	"record-route": "Record-Route", "route": "Route", "max-forwards": "Max-Forwards",
	"content-length": "Content-Length", "l": "Content-Length",
}

// optionHeaders are the headers strip_option works on, by lower-case name.
var optionHeaders = map[string]string{
	"require": "Require", "supported": "Supported", "k": "Supported", "proxy-require": "Proxy-Require",
}

func oneOf(s string, allowed ...string) bool { return slices.Contains(allowed, s) }

// quoteList renders allowed values for a message: "a, b or c".
func quoteList(allowed ...string) string {
	if len(allowed) == 1 {
		return allowed[0]
	}
	return strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
}

func (v *validator) enum(path, got string, allowed ...string) {
	if !oneOf(got, allowed...) {
		v.errAt(path, "%q is not one of %s", got, quoteList(allowed...))
	}
}

func (v *validator) validate() {
	c := v.cfg
	v.enum("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.enum("log.format", c.Log.Format, "text", "json")
	v.dscp("sip.dscp", *c.SIP.DSCP)
	v.positive("sip.drain_timeout", c.SIP.DrainTimeout)
	v.positive("sip.invite_timeout", c.SIP.InviteTimeout)
	if c.SIP.SessionExpires < MinSessionExpires {
		v.errAt("sip.session_expires", "%s is below the minimum of %s", c.SIP.SessionExpires, MinSessionExpires)
	}
	if c.SIP.UnknownMethod != 405 && c.SIP.UnknownMethod != 501 {
		v.errAt("sip.unknown_method", "%d is not one of 405 or 501", c.SIP.UnknownMethod)
	}
	if c.SIP.MaxForwards < 1 || c.SIP.MaxForwards > 255 {
		v.errAt("sip.max_forwards", "%d is outside 1-255", c.SIP.MaxForwards)
	}
	v.positive("media.timeout", c.Media.Timeout)
	v.positive("media.hold_timeout", c.Media.HoldTimeout)
	v.positive("media.port_drain", c.Media.PortDrain)
	v.mediaServices()
	v.mediaTones()
	v.mediaRelay()
	if c.Media.NG != "" {
		v.addrPort("media.ng", c.Media.NG)
	}
	nodes := map[netip.AddrPort]bool{}
	for i, n := range c.Media.Nodes {
		p := fmt.Sprintf("media.nodes[%d]", i)
		if ap, ok := v.addrPort(p, n); ok {
			if nodes[ap] {
				v.errAt(p, "media node %s is listed twice", n)
			}
			nodes[ap] = true
		}
	}
	if c.Admin.Address != "" {
		v.addrPort("admin.address", c.Admin.Address)
	}
	v.admin()
	v.snmp()
	v.overload()
	v.cdr()
	v.normalization()
	v.realmsCheck()
	v.trunksCheck()
	v.capture() // after realms and trunks: rules name them
	v.rateTablesCheck()
	v.routesCheck()
	v.authCheck()
	v.enum("route_selection", c.RouteSelection, SelectFirstMatch, SelectLongestPrefix)
	v.security()
	v.turn()
	v.conferences()
}

func (v *validator) dscp(path string, d int) {
	if d < 0 || d > 63 {
		v.errAt(path, "%d is outside 0-63", d)
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d < 0 {
		v.errAt(path, "%s must not be negative", d)
	}
}

// addrPort checks an ip:port with a literal IP and a non-zero port.
func (v *validator) addrPort(path, s string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		v.errAt(path, "%q is not an ip:port address with a literal IP (IPv6 as [::1]:5060)", s)
		return netip.AddrPort{}, false
	}
	if ap.Port() == 0 {
		v.errAt(path, "%q: port must be 1-65535", s)
		return netip.AddrPort{}, false
	}
	return ap, true
}

// name checks a required, well-formed name unique within seen.
func (v *validator) name(path, kind, n string, seen map[string]string) {
	switch {
	case n == "":
		v.errAt(path, "%s name is required", kind)
	case !nameRE.MatchString(n):
		v.errAt(path, "%s name %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, n)
	case seen[n] != "":
		v.errAt(path, "duplicate %s name %q (first used at %s)", kind, n, seen[n])
	default:
		seen[n] = path
	}
}

func (v *validator) normRefs(path string, ref NormalizationRef) {
	for i, n := range ref.Inbound {
		if _, ok := v.cfg.Normalization[n]; !ok {
			v.errAt(fmt.Sprintf("%s.inbound[%d]", path, i), "unknown normalization rule set %q", n)
		}
	}
	for i, n := range ref.Outbound {
		if _, ok := v.cfg.Normalization[n]; !ok {
			v.errAt(fmt.Sprintf("%s.outbound[%d]", path, i), "unknown normalization rule set %q", n)
		}
	}
}

func (v *validator) codecs(path string, cs []string) {
	seen := map[string]bool{}
	for i, c := range cs {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case c == "" || strings.ContainsAny(c, " \t\r\n/"):
			v.errAt(p, "codec name %q must be a single word such as PCMU, opus or telephone-event", c)
		case seen[strings.ToLower(c)]:
			v.errAt(p, "codec %q listed twice", c)
		}
		seen[strings.ToLower(c)] = true
	}
}

// socket identifies what a listener binds: tls and tcp share TCP ports.
type socket struct {
	network string
	addr    netip.AddrPort
}

type portRange struct {
	path     string
	min, max int
}

func (v *validator) realmsCheck() {
	c := v.cfg
	v.realms = make(map[string]*RealmConfig, len(c.Realms))
	if len(c.Realms) == 0 {
		v.errAt("realms", "at least one realm is required")
		return
	}
	names := map[string]string{}
	sockets := map[socket]string{}
	ranges := map[netip.Addr][]portRange{}
	for i := range c.Realms {
		r := &c.Realms[i]
		p := fmt.Sprintf("realms[%d]", i)
		v.name(p+".name", "realm", r.Name, names)
		if _, dup := v.realms[r.Name]; !dup && r.Name != "" {
			v.realms[r.Name] = r
		}
		if len(r.Listeners) == 0 {
			v.errAt(p+".listeners", "at least one listener is required")
		}
		for j, l := range r.Listeners {
			v.listener(fmt.Sprintf("%s.listeners[%d]", p, j), l, sockets)
		}
		if r.AdvertisedAddress != "" {
			v.advertised(p+".advertised_address", r.AdvertisedAddress)
		}
		v.realmMedia(p+".media", r.Media, ranges)
		v.normRefs(p+".normalization", r.Normalization)
		for j, h := range r.AllowHeaders {
			hp := fmt.Sprintf("%s.allow_headers[%d]", p, j)
			if !headerRE.MatchString(h) {
				v.errAt(hp, "%q is not a valid header name", h)
			} else if owned, ok := ownedHeaders[strings.ToLower(h)]; ok {
				v.errAt(hp, "%s is built by sbcd on each leg and cannot be passed through", owned)
			}
		}
		v.enum(p+".refer", r.Refer, "transfer", "reject")
		v.enum(p+".redirect", r.Redirect, "recurse", "relay")
		v.enum(p+".prack", r.PRACK, "terminate", "disable")
	}
}

func (v *validator) advertised(path, s string) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.IsUnspecified() {
			v.errAt(path, "%s cannot be advertised to peers; set advertised_address", s)
		}
		return
	}
	if !hostRE.MatchString(s) || len(s) > 253 {
		v.errAt(path, "%q is neither an IP address nor a host name", s)
	}
}

func (v *validator) listener(p string, l ListenerConfig, sockets map[socket]string) {
	v.enum(p+".transport", l.Transport, "udp", "tcp", "tls", "ws", "wss")
	v.websocket(p+".websocket", l)
	if l.Address == "" {
		v.errAt(p+".address", "address is required")
	} else if ap, ok := v.addrPort(p+".address", l.Address); ok && oneOf(l.Transport, "udp", "tcp", "tls", "ws", "wss") {
		s := socket{network: "udp", addr: ap}
		if l.Transport != "udp" {
			s.network = "tcp"
		}
		if prev, dup := sockets[s]; dup {
			v.errAt(p+".address", "%s %s is already used by %s", l.Transport, l.Address, prev)
		} else {
			sockets[s] = p
		}
	}
	if l.Transport != "tls" && l.Transport != "wss" {
		if l.CertFile != "" {
			v.errAt(p+".cert_file", "cert_file applies only to transports tls and wss")
		}
		if l.KeyFile != "" {
			v.errAt(p+".key_file", "key_file applies only to transports tls and wss")
		}
		return
	}
	okCert := v.readable(p+".cert_file", "cert_file", l.CertFile)
	okKey := v.readable(p+".key_file", "key_file", l.KeyFile)
	if okCert && okKey {
		if _, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile); err != nil {
			v.errAt(p+".cert_file", "cannot use certificate and key: %v", err)
		}
	}
}

func (v *validator) readable(path, field, file string) bool {
	if file == "" {
		v.errAt(path, "%s is required for transports tls and wss", field)
		return false
	}
	f, err := os.Open(file)
	if err != nil {
		v.errAt(path, "cannot read %s: %v", field, unwrapPathErr(err))
		return false
	}
	f.Close()
	return true
}

// unwrapPathErr drops the file name that *os.PathError repeats.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func (v *validator) realmMedia(p string, m RealmMediaConfig, ranges map[netip.Addr][]portRange) {
	var addr netip.Addr
	if m.Address != "" {
		a, err := netip.ParseAddr(m.Address)
		if err != nil {
			v.errAt(p+".address", "%q is not a literal IP address", m.Address)
		} else {
			addr = a
		}
	}
	if m.AdvertisedAddress != "" && m.AdvertisedAddress != m.Address {
		if a, err := netip.ParseAddr(m.AdvertisedAddress); err != nil {
			v.errAt(p+".advertised_address", "%q is not a literal IP address", m.AdvertisedAddress)
		} else if a.IsUnspecified() {
			v.errAt(p+".advertised_address", "%s cannot be written into SDP", m.AdvertisedAddress)
		}
	} else if addr.IsValid() && addr.IsUnspecified() {
		v.errAt(p+".advertised_address", "required when media binds to %s (it cannot be written into SDP)", addr)
	}
	okRange := true
	if m.PortMin < 1024 || m.PortMin > 65535 {
		v.errAt(p+".port_min", "%d is outside 1024-65535", m.PortMin)
		okRange = false
	} else if m.PortMin%2 != 0 {
		v.errAt(p+".port_min", "%d must be even (RTP uses even ports)", m.PortMin)
		okRange = false
	}
	if m.PortMax < 1024 || m.PortMax > 65535 {
		v.errAt(p+".port_max", "%d is outside 1024-65535", m.PortMax)
		okRange = false
	} else if okRange && m.PortMax <= m.PortMin {
		v.errAt(p+".port_max", "%d must be greater than port_min %d", m.PortMax, m.PortMin)
		okRange = false
	}
	if okRange && addr.IsValid() {
		for _, o := range ranges[addr] {
			if m.PortMin <= o.max && o.min <= m.PortMax {
				v.errAt(p+".port_min", "ports %d-%d on %s overlap %d-%d of %s", m.PortMin, m.PortMax, addr, o.min, o.max, o.path)
				break
			}
		}
		ranges[addr] = append(ranges[addr], portRange{path: p, min: m.PortMin, max: m.PortMax})
	}
	v.dscp(p+".dscp", *m.DSCP)
	v.enum(p+".srtp", m.SRTP, "none", "sdes", "dtls", "webrtc", "optional")
	v.codecs(p+".codecs", m.Codecs)
}

func (v *validator) trunksCheck() {
	c := v.cfg
	v.trunks = make(map[string]*TrunkConfig, len(c.Trunks))
	names := map[string]string{}
	type gwKey struct {
		realm string
		addr  netip.AddrPort
	}
	gateways := map[gwKey]string{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		p := fmt.Sprintf("trunks[%d]", i)
		v.name(p+".name", "trunk", t.Name, names)
		if _, dup := v.trunks[t.Name]; !dup && t.Name != "" {
			v.trunks[t.Name] = t
		}
		switch {
		case t.Realm == "":
			v.errAt(p+".realm", "realm is required")
		case v.realms[t.Realm] == nil:
			v.errAt(p+".realm", "unknown realm %q", t.Realm)
		}
		if len(t.Gateways) == 0 {
			v.errAt(p+".gateways", "at least one gateway is required")
		}
		for j, g := range t.Gateways {
			gp := fmt.Sprintf("%s.gateways[%d]", p, j)
			if g.Address == "" {
				v.errAt(gp+".address", "address is required")
			} else if ap, ok := v.addrPort(gp+".address", g.Address); ok {
				k := gwKey{realm: t.Realm, addr: ap}
				if prev, dup := gateways[k]; dup {
					v.errAt(gp+".address", "%s is already a gateway at %s in realm %q", g.Address, prev, t.Realm)
				} else {
					gateways[k] = gp
				}
			}
			v.enum(gp+".transport", g.Transport, "udp", "tcp", "tls")
			if g.Priority < 1 || g.Priority > 65535 {
				v.errAt(gp+".priority", "%d is outside 1-65535", g.Priority)
			}
			if g.Weight < 1 || g.Weight > 65535 {
				v.errAt(gp+".weight", "%d is outside 1-65535", g.Weight)
			}
		}
		v.normRefs(p+".normalization", t.Normalization)
		v.codecs(p+".codecs", t.Codecs)
		if t.SRTP != "" {
			v.enum(p+".srtp", t.SRTP, "none", "sdes", "dtls", "webrtc", "optional")
		}
		for j, code := range t.FailoverCodes {
			if code < 400 || code > 699 {
				v.errAt(fmt.Sprintf("%s.failover_codes[%d]", p, j), "%d is outside 400-699", code)
			}
		}
		v.healthCheck(p+".health_check", t.HealthCheck)
	}
}

func (v *validator) routesCheck() {
	names := map[string]string{}
	for i := range v.cfg.Routes {
		r := &v.cfg.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		v.name(p+".name", "route", r.Name, names)
		v.match(p+".match", r.Match)

		var actions []string
		if r.Service != "" {
			actions = append(actions, "service")
			v.enum(p+".service", r.Service, "echo", "tone")
		}
		if len(r.Trunks) > 0 {
			actions = append(actions, "trunks")
			seen := map[string]bool{}
			for j, t := range r.Trunks {
				tp := fmt.Sprintf("%s.trunks[%d]", p, j)
				switch {
				case v.trunks[t] == nil:
					v.errAt(tp, "unknown trunk %q", t)
				case seen[t]:
					v.errAt(tp, "trunk %q listed twice", t)
				}
				seen[t] = true
			}
		}
		if r.Registered != "" {
			actions = append(actions, "registered")
			switch rc := v.realms[r.Registered]; {
			case rc == nil:
				v.errAt(p+".registered", "unknown realm %q", r.Registered)
			case !rc.Registrar:
				v.errAt(p+".registered", "realm %q is not a registrar (set registrar: true on it)", r.Registered)
			}
		}
		if r.Reject != nil {
			actions = append(actions, "reject")
			if r.Reject.Code < 400 || r.Reject.Code > 699 {
				v.errAt(p+".reject.code", "%d is outside 400-699", r.Reject.Code)
			}
			if strings.ContainsAny(r.Reject.Reason, "\r\n\x00") {
				v.errAt(p+".reject.reason", "must not contain CR, LF or NUL")
			}
		}
		v.routeRouting(p, r)
		switch {
		case len(actions) == 0:
			v.errAt(p, "route needs one action: service, trunks, registered or reject")
		case len(actions) == 2 && actions[0] == "trunks" && actions[1] == "registered":
			// registered users first, then the trunks
		case len(actions) > 1:
			v.errAt(p, "route has more than one action (%s); only registered may be combined with trunks", strings.Join(actions, ", "))
		}
	}
}

func (v *validator) match(p string, m MatchConfig) {
	if m.SourceRealm != "" && v.realms[m.SourceRealm] == nil {
		v.errAt(p+".source_realm", "unknown realm %q", m.SourceRealm)
	}
	if m.SourceTrunk != "" {
		t := v.trunks[m.SourceTrunk]
		switch {
		case t == nil:
			v.errAt(p+".source_trunk", "unknown trunk %q", m.SourceTrunk)
		case m.SourceRealm != "" && t.Realm != m.SourceRealm:
			v.errAt(p+".source_trunk", "trunk %q is in realm %q, not %q: the route could never match", m.SourceTrunk, t.Realm, m.SourceRealm)
		}
	}
	v.stringMatch(p+".ruri_user", m.RURIUser)
	v.stringMatch(p+".ruri_host", m.RURIHost)
	v.stringMatch(p+".from_user", m.FromUser)
	v.matchExtras(p, m)
}

func (v *validator) stringMatch(p string, m StringMatch) {
	var set []string
	if m.Exact != "" {
		set = append(set, "exact")
	}
	if m.Prefix != "" {
		set = append(set, "prefix")
	}
	if m.Regex != "" {
		set = append(set, "regex")
		v.regex(p+".regex", m.Regex)
	}
	if len(set) > 1 {
		v.errAt(p, "set only one of exact, prefix or regex (got %s)", strings.Join(set, " and "))
	}
}

func (v *validator) regex(p, re string) {
	if _, err := regexp.Compile(re); err != nil {
		v.errAt(p, "invalid regex %q: %v", re, err)
	}
}

func (v *validator) admin() {
	a := v.cfg.Admin
	seen := map[string]string{}
	for i, t := range a.Tokens {
		p := fmt.Sprintf("admin.tokens[%d]", i)
		v.name(p+".name", "token", t.Name, seen)
		v.enum(p+".role", t.Role, "read_only", "operator", "lawful_intercept")
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			v.errAt(p+".sha256", "must be 64 hex digits (the SHA-256 of the token), got %d characters", len(t.SHA256))
		}
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		v.errAt("admin.cert_file", "cert_file and key_file go together")
	} else if a.CertFile != "" {
		v.readable("admin", "cert_file", a.CertFile)
		v.readable("admin", "key_file", a.KeyFile)
	}
}

func (v *validator) snmp() {
	a := v.cfg.SNMP.AgentX
	switch {
	case a == "":
	case strings.HasPrefix(a, "unix:") && len(a) > len("unix:"), strings.HasPrefix(a, "/"):
	case strings.HasPrefix(a, "tcp:"):
		ap, ok := v.addrPort("snmp.agentx", strings.TrimPrefix(a, "tcp:"))
		if ok && !ap.Addr().IsLoopback() {
			v.errAt("snmp.agentx", "AgentX carries no authentication: use a loopback address or a unix socket, not %s", ap.Addr())
		}
	default:
		v.errAt("snmp.agentx", "%q is not unix:/path, /path or tcp:127.0.0.1:port", a)
	}
}

// cdr checks the CDR section with the cdr package's own rules; each
// problem is reported at its key under cdr.
func (v *validator) cdr() {
	err := v.cfg.CDR.Sinks().Validate()
	if err == nil {
		return
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				v.cdrProblem(inner)
			}
			continue
		}
		v.cdrProblem(e)
	}
}

func (v *validator) cdrProblem(e error) {
	if e == nil {
		return
	}
	msg := strings.TrimPrefix(e.Error(), cdr.ErrInvalidConfig.Error()+": ")
	field, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		v.errAt("cdr", "%s", msg)
		return
	}
	path := "cdr." + strings.TrimPrefix(field, "files.")
	v.errAt(path, "%s", rest)
}

func (v *validator) capture() {
	c := v.cfg.Capture
	if c.RingDuration < 0 {
		v.errAt("capture.ring_duration", "%s is negative", c.RingDuration)
	}
	if c.RingBytes < 0 {
		v.errAt("capture.ring_bytes", "%d is negative", c.RingBytes)
	}
	if c.HEP.Address != "" {
		v.addrPort("capture.hep.address", c.HEP.Address)
		if c.HEP.Transport != "" {
			v.enum("capture.hep.transport", c.HEP.Transport, "udp", "tcp")
		}
		if c.HEP.AgentID < 0 || c.HEP.AgentID > 1<<32-1 {
			v.errAt("capture.hep.agent_id", "%d is outside 0-4294967295", c.HEP.AgentID)
		}
	}
	if len(c.Rules) > 0 && c.Dir == "" {
		v.errAt("capture.rules", "capture rules need capture.dir")
	}
	if len(c.Rules) > MaxCaptureRules {
		v.errAt("capture.rules", "%d rules, at most %d", len(c.Rules), MaxCaptureRules)
	}
	seen := map[string]int{}
	for i, r := range c.Rules {
		p := fmt.Sprintf("capture.rules[%d]", i)
		f, err := capture.ParseFilter(r.Filter)
		if err != nil {
			v.errAt(p+".filter", "%v", err)
		} else if j, dup := seen[f.String()]; dup {
			v.errAt(p+".filter", "%q is already the filter of capture.rules[%d]", r.Filter, j)
		} else {
			seen[f.String()] = i
			if f.Kind == capture.ByRealm && v.realms[f.Value] == nil {
				v.errAt(p+".filter", "unknown realm %q", f.Value)
			}
			if f.Kind == capture.ByTrunk && v.trunks[f.Value] == nil {
				v.errAt(p+".filter", "unknown trunk %q", f.Value)
			}
		}
		if r.Duration < 0 || r.Duration > time.Hour {
			v.errAt(p+".duration", "%s is outside 0-1h", r.Duration)
		}
		if r.MaxBytes < 0 || r.MaxBytes > 1<<30 {
			v.errAt(p+".max_bytes", "%d is outside 0-1073741824", r.MaxBytes)
		}
	}
}
