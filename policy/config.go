package policy

import (
	"time"

	"github.com/openborder/openborder/cdr"
)

// Config is the YAML document as written by the operator. Load decodes it
// strictly, fills defaults, validates it and compiles it into a *Set; code
// outside this package reads policy only through *Set.
//
// Every field's zero value means "use the default" stated in its comment.
type Config struct {
	// Log configures sbcd's logging.
	Log LogConfig `yaml:"log"`
	// SIP holds process-wide signalling settings.
	SIP SIPConfig `yaml:"sip"`
	// Media holds process-wide media-engine settings.
	Media MediaConfig `yaml:"media"`
	// Admin is the management HTTP listener (admin API, /metrics, /healthz).
	Admin AdminConfig `yaml:"admin"`
	// CDR configures call detail records (files, RADIUS accounting).
	CDR CDRConfig `yaml:"cdr"`
	// SNMP connects sbcd to the system's snmpd as an AgentX subagent.
	SNMP SNMPConfig `yaml:"snmp"`
	// Capture is packet capture (PCAPNG) and HEP export.
	Capture CaptureConfig `yaml:"capture"`
	// Security is the border defence shared by all realms (sanity limits,
	// blacklisting, scanner detection); see policy/security.go.
	Security SecurityConfig `yaml:"security"`
	// Realms are the networks sbcd borders on. At least one is required.
	Realms []RealmConfig `yaml:"realms"`
	// Trunks are the SIP peers (gateways) reached through a realm.
	Trunks []TrunkConfig `yaml:"trunks"`
	// Routes are evaluated in order; the first that matches decides
	// (see RouteSelection).
	Routes []RouteConfig `yaml:"routes"`
	// RouteSelection is first_match (the first matching route in file
	// order decides) or longest_prefix (among the matching routes, the one
	// whose ruri_user prefix is longest decides; file order breaks ties).
	// Default first_match.
	RouteSelection string `yaml:"route_selection"`
	// RateTables are the costs least-cost routes compare trunks by.
	RateTables []RateTableConfig `yaml:"rate_tables"`
	// Normalization holds named rule sets referenced by realms and trunks.
	Normalization map[string][]RuleConfig `yaml:"normalization"`
	// StateDir holds what sbcd keeps across restarts (registration
	// bindings). Relative to the policy file. Empty: nothing is kept.
	StateDir string `yaml:"state_dir"`
	// Fraud is toll-fraud protection (limits per account and destination prefix).
	Fraud FraudConfig `yaml:"fraud"`
	// TURN is the embedded TURN server for WebRTC clients. No listeners: off.
	TURN TURNConfig `yaml:"turn"`
	// Conferences makes sbcd a conference bridge (conference.go). Default off.
	Conferences ConferenceConfig `yaml:"conferences"`
}

// LogConfig configures log/slog.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// SIPConfig holds signalling settings shared by all realms.
type SIPConfig struct {
	// DSCP is the DiffServ code point set on signalling packets (0-63). Default 24 (CS3).
	DSCP *int `yaml:"dscp"`
	// DrainTimeout is how long calls may continue after SIGTERM before both
	// legs get BYE. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// SessionExpires is the RFC 4028 session interval sbcd asks for on each
	// leg. 0 means the default 1800s; the minimum is 90s.
	SessionExpires time.Duration `yaml:"session_expires"`
	// InviteTimeout bounds how long a B-leg INVITE may wait for a final
	// response before the next gateway is tried. Default 32s.
	InviteTimeout time.Duration `yaml:"invite_timeout"`
	// UnknownMethod is the response code for methods sbcd does not relay:
	// 405 or 501. Default 501.
	UnknownMethod int `yaml:"unknown_method"`
	// MaxForwards is the Max-Forwards value sbcd puts on requests it
	// originates when the incoming request had none. Default 70.
	MaxForwards int `yaml:"max_forwards"`
}

// MediaConfig holds media-engine settings shared by all realms.
type MediaConfig struct {
	// Timeout ends a call whose media stopped for this long. Default 60s; 0 in YAML means default.
	Timeout time.Duration `yaml:"timeout"`
	// HoldTimeout replaces Timeout while a call is on hold. Default 1h.
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	// PortDrain is how long a port stays out of the pool after its call ends. Default 5s.
	PortDrain time.Duration `yaml:"port_drain"`
	// NG is the rtpengine ng-protocol control listener, host:port (UDP). Empty disables it.
	NG string `yaml:"ng"`
	// Nodes are remote media nodes, ip:port of their ng control socket
	// (UDP): sbcd's own media-only mode or any rtpengine-compatible
	// relay. Relayed calls are spread over the nodes that answer; the
	// built-in services (echo, tone) stay in-process. Empty: every call's
	// media is anchored in-process.
	Nodes []string `yaml:"nodes"`
	// Transcoding configures codec conversion (media_services.go).
	Transcoding TranscodingConfig `yaml:"transcoding"`
	// Recording configures call recording (media_services.go).
	Recording RecordingConfig `yaml:"recording"`
	// Relay selects the media relay's socket model (media_relay.go).
	Relay RelayConfig `yaml:"relay"`
	// DTMF configures DTMF interworking (media_tones.go).
	DTMF DTMFConfig `yaml:"dtmf"`
	// Announcements maps failure response codes ("404", "486", ...) to
	// what the caller hears before them (media_tones.go). Default none.
	Announcements map[string]AnnouncementConfig `yaml:"announcements"`
}

// AdminConfig is the management HTTP listener.
type AdminConfig struct {
	// Address is host:port. Empty disables the listener.
	Address string `yaml:"address"`
	// Tokens may call the admin API (Authorization: Bearer <token>).
	// Without tokens the API refuses every call; /healthz and /metrics
	// need none.
	Tokens []AdminToken `yaml:"tokens"`
	// AuditLog is a file every change made through the API is appended
	// to (JSON lines). Empty: changes are only logged.
	AuditLog string `yaml:"audit_log"`
	// CertFile and KeyFile serve the admin listener over HTTPS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// CDRConfig configures call detail records: one record per call attempt,
// on disk before the call is released, and optionally RADIUS accounting.
type CDRConfig struct {
	// Dir holds the CDR files (created if missing). Empty: no CDR files.
	Dir string `yaml:"dir"`
	// Name is the files' base name (Name.csv, Name.jsonl). Default cdr.
	Name string `yaml:"name"`
	// Formats is csv and/or jsonl. Default [csv].
	Formats []string `yaml:"formats"`
	// MaxSize rotates a file at this many bytes. Default 64 MiB; -1 disables.
	MaxSize int64 `yaml:"max_size"`
	// RotateInterval rotates the files at every multiple of it (UTC).
	// Default 24h (midnight UTC); -1s disables.
	RotateInterval time.Duration `yaml:"rotate_interval"`
	// MaxDelay lets a batch wait this long for more records before its
	// fsync. Default 0.
	MaxDelay time.Duration `yaml:"max_delay"`
	// RADIUS sends accounting Start/Stop (RFC 2866).
	RADIUS RADIUSConfig `yaml:"radius"`
}

// RADIUSConfig is RADIUS accounting.
type RADIUSConfig struct {
	// Servers are tried in order. Empty disables RADIUS accounting.
	Servers []RADIUSServerConfig `yaml:"servers"`
	// Timeout per answer. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries per server before the next one. Default 2.
	Retries int `yaml:"retries"`
	// SpoolDir keeps undelivered requests until a server answers. Required with servers.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes caps the spool. Default 64 MiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// InterimInterval sends Interim-Updates for answered calls. Default none.
	InterimInterval time.Duration `yaml:"interim_interval"`
	// NASIdentifier is sent as NAS-Identifier. Default sbcd.
	NASIdentifier string `yaml:"nas_identifier"`
	// NASIPAddress (IPv4) is sent as NAS-IP-Address when set.
	NASIPAddress string `yaml:"nas_ip_address"`
}

// RADIUSServerConfig is one accounting server.
type RADIUSServerConfig struct {
	// Address is host:port, usually port 1813.
	Address string `yaml:"address"`
	// Secret is the shared secret. Required.
	Secret string `yaml:"secret"`
}

// Sinks converts the section into the cdr package's configuration.
func (c CDRConfig) Sinks() cdr.Config {
	out := cdr.Config{
		Files: cdr.FileConfig{Dir: c.Dir, Name: c.Name, MaxSize: c.MaxSize,
			RotateInterval: c.RotateInterval, MaxDelay: c.MaxDelay},
		RADIUS: cdr.RADIUSConfig{Timeout: c.RADIUS.Timeout, Retries: c.RADIUS.Retries,
			SpoolDir: c.RADIUS.SpoolDir, SpoolMaxBytes: c.RADIUS.SpoolMaxBytes,
			InterimInterval: c.RADIUS.InterimInterval, NASIdentifier: c.RADIUS.NASIdentifier,
			NASIPAddress: c.RADIUS.NASIPAddress},
	}
	for _, f := range c.Formats {
		out.Files.Formats = append(out.Files.Formats, cdr.Format(f))
	}
	for _, s := range c.RADIUS.Servers {
		out.RADIUS.Servers = append(out.RADIUS.Servers, cdr.RADIUSServer{Address: s.Address, Secret: s.Secret})
	}
	return out
}

// CaptureConfig is packet capture: per-call captures started through the
// admin API, a ring of recent signalling, and HEPv3 export.
type CaptureConfig struct {
	// Dir holds capture files. Empty disables captures and the ring.
	Dir string `yaml:"dir"`
	// NoRing turns the ring of recent SIP off. Default false (ring on).
	NoRing bool `yaml:"no_ring"`
	// RingDuration is how far back the ring reaches. Default 5m.
	RingDuration time.Duration `yaml:"ring_duration"`
	// RingBytes bounds the ring's memory. Default 64 MiB.
	RingBytes int64 `yaml:"ring_bytes"`
	// HEP sends every SIP message to a Homer collector.
	HEP HEPConfig `yaml:"hep"`
	// Rules are captures sbcd runs by itself, from start to shutdown:
	// every call a rule's filter selects is captured whole. Default none.
	Rules []CaptureRule `yaml:"rules"`
}

// CaptureRule is a policy-triggered capture. Its file ends after Duration
// or MaxBytes and the next one starts at once.
type CaptureRule struct {
	// Filter selects calls: call:ID, number:N (N* for a prefix),
	// addr:IP[/BITS], realm:NAME or trunk:NAME. Required.
	Filter string `yaml:"filter"`
	// Duration is the length of one file. Default 10m, at most 1h.
	Duration time.Duration `yaml:"duration"`
	// MaxBytes is the size of one file. Default 100 MiB, at most 1 GiB.
	MaxBytes int64 `yaml:"max_bytes"`
}

// MaxCaptureRules bounds capture.rules (per-call captures from the admin
// API need room too).
const MaxCaptureRules = 8

// HEPConfig is HEPv3 export.
type HEPConfig struct {
	// Address is the collector's ip:port. Empty disables HEP.
	Address string `yaml:"address"`
	// Transport is udp or tcp. Default udp.
	Transport string `yaml:"transport"`
	// AgentID identifies this sbcd to the collector. Default 0.
	AgentID int `yaml:"agent_id"`
	// Password is the collector's auth key. Default none.
	Password string `yaml:"password"`
}

// SNMPConfig is the AgentX subagent.
type SNMPConfig struct {
	// AgentX is snmpd's agentXSocket: "unix:/path" or "tcp:127.0.0.1:705".
	// Empty disables the subagent.
	AgentX string `yaml:"agentx"`
	// Overload sets when sbcd reports that it sheds load (obOverload,
	// obOverloadCleared, openborder_overload).
	Overload OverloadConfig `yaml:"overload"`
}

// AdminToken is one API credential. Only the token's SHA-256 is stored.
type AdminToken struct {
	// Name identifies the holder in the audit log. Required, unique.
	Name string `yaml:"name"`
	// Role is read_only, operator or lawful_intercept.
	Role string `yaml:"role"`
	// SHA256 is the hex SHA-256 of the token (e.g. `printf %s TOKEN | sha256sum`).
	SHA256 string `yaml:"sha256"`
}

// RealmConfig is one network sbcd borders on.
type RealmConfig struct {
	// Name identifies the realm in routes, trunks, logs and metrics. Required, unique.
	Name string `yaml:"name"`
	// Listeners are the realm's SIP sockets. At least one is required.
	Listeners []ListenerConfig `yaml:"listeners"`
	// AdvertisedAddress is the host or IP written into Via and Contact
	// (NAT'd deployments). Default: the first listener's IP.
	AdvertisedAddress string `yaml:"advertised_address"`
	// Media is where calls of this realm get their media ports.
	Media RealmMediaConfig `yaml:"media"`
	// Normalization names the rule sets applied to messages received from
	// (Inbound) and sent into (Outbound) this realm.
	Normalization NormalizationRef `yaml:"normalization"`
	// Registrar makes sbcd accept REGISTER in this realm and keep bindings locally. Default false.
	Registrar bool `yaml:"registrar"`
	// Registration configures forwarding to a core registrar and NAT
	// keep-alives for a registrar realm (policy/registration.go).
	Registration RegistrationConfig `yaml:"registration"`
	// AllowHeaders lists header names that may cross from this realm to the
	// other leg unchanged. Default none (full topology hiding).
	AllowHeaders []string `yaml:"allow_headers"`
	// Refer is what sbcd does with REFER received in this realm: "transfer"
	// (re-target the other leg to the Refer-To) or "reject" (403). Default reject.
	Refer string `yaml:"refer"`
	// Redirect is what sbcd does with 3xx answers received in this realm:
	// "recurse" (try the Contact targets) or "relay" (map to the caller). Default recurse.
	Redirect string `yaml:"redirect"`
	// PRACK is "terminate" (sbcd acts as UAS/UAC of 100rel per leg) or
	// "disable" (strip 100rel). Default terminate.
	PRACK string `yaml:"prack"`
	// Auth, when set, makes requests received in this realm authenticate
	// with SIP digest. Default: no authentication.
	Auth *AuthConfig `yaml:"auth"`
	// Limits is call admission control for calls in or out of this realm.
	Limits LimitsConfig `yaml:"limits"`
	// Emergency lists dialled numbers (Request-URI users) that bypass
	// admission control and fraud rules and pre-empt other calls. Default none.
	Emergency []string `yaml:"emergency"`
	// Security is the realm's ACL and rate limits.
	Security RealmSecurityConfig `yaml:"security"`
}

// ListenerConfig is one SIP socket of a realm.
type ListenerConfig struct {
	// Transport is udp, tcp, tls, ws or wss (SIP over WebSocket, RFC 7118). Required.
	Transport string `yaml:"transport"`
	// Address is ip:port. Required; the IP must be literal.
	Address string `yaml:"address"`
	// CertFile and KeyFile are PEM files, required for tls and wss.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// WebSocket settings apply to ws and wss listeners only.
	WebSocket WebSocketConfig `yaml:"websocket"`
}

// RealmMediaConfig says where a realm's media ports live.
type RealmMediaConfig struct {
	// Address is the local IP media sockets bind to. Default: the first listener's IP.
	Address string `yaml:"address"`
	// AdvertisedAddress is written into SDP. Default: Address.
	AdvertisedAddress string `yaml:"advertised_address"`
	// PortMin and PortMax bound the realm's RTP port range (inclusive, even
	// ports are RTP, odd RTCP). Default 20000-29999.
	PortMin int `yaml:"port_min"`
	PortMax int `yaml:"port_max"`
	// DSCP marks media packets sent into this realm (0-63). Default 46 (EF).
	DSCP *int `yaml:"dscp"`
	// SRTP is the media security offered/required in this realm: none,
	// sdes, dtls, webrtc (DTLS-SRTP with ICE-lite, rtcp-mux and
	// UDP/TLS/RTP/SAVPF, what browsers need) or optional (pass through
	// whatever the peer offers; legs to and from WebSocket clients get
	// webrtc). Default optional.
	SRTP string `yaml:"srtp"`
	// Codecs, when set, restricts the codecs offered into this realm (names
	// like PCMU, PCMA, opus, G722, telephone-event). Default: no restriction.
	Codecs []string `yaml:"codecs"`
	// Record records every call with a leg in this realm (needs
	// media.recording.directory). Default false.
	Record bool `yaml:"record"`
	// SRTPRequired refuses calls (488) whose SDP from this realm offers or
	// answers no SRTP (SDES or DTLS) media. Default false.
	SRTPRequired bool `yaml:"srtp_required"`
	// DTMF is how this realm's peers send and receive digits: rfc4733,
	// info or inband (media_tones.go). Default rfc4733.
	DTMF string `yaml:"dtmf"`
	// Tones is the country of the call-progress tones played to callers
	// of this realm: US, UK, DE, FR or IN. Default US.
	Tones string `yaml:"tones"`
	// Ringback is relay (callers hear what the callee sends) or local
	// (sbcd plays ringback when the callee rings without media). Default relay.
	Ringback string `yaml:"ringback"`
	// NoKernelForwarding keeps every stream with a leg in this realm in
	// user space when media.relay.kernel_forwarding is on or auto.
	// Default false.
	NoKernelForwarding bool `yaml:"no_kernel_forwarding"`
}

// NormalizationRef names rule sets applied on ingress and egress.
type NormalizationRef struct {
	Inbound  []string `yaml:"inbound"`
	Outbound []string `yaml:"outbound"`
}

// TrunkConfig is a SIP peer reached through a realm.
type TrunkConfig struct {
	// Name identifies the trunk. Required, unique.
	Name string `yaml:"name"`
	// Realm is the realm whose listeners reach the trunk. Required.
	Realm string `yaml:"realm"`
	// Gateways are tried by priority (lower first), weighted-random within a priority. At least one.
	Gateways []GatewayConfig `yaml:"gateways"`
	// Normalization applies in addition to the realm's rule sets.
	Normalization NormalizationRef `yaml:"normalization"`
	// Codecs, when set, restricts codecs offered to this trunk.
	Codecs []string `yaml:"codecs"`
	// Record records every call through this trunk (needs
	// media.recording.directory). Default false.
	Record bool `yaml:"record"`
	// SRTP overrides the realm's media SRTP setting for this trunk.
	SRTP string `yaml:"srtp"`
	// DTMF overrides the realm's media DTMF mode for this trunk.
	DTMF string `yaml:"dtmf"`
	// FailoverCodes are final responses that make sbcd try the next
	// gateway or trunk. Default [408, 480, 500, 502, 503, 504]; timeouts always fail over.
	FailoverCodes []int `yaml:"failover_codes"`
	// Register makes sbcd register with the trunk (policy/registration.go). Default none.
	Register *TrunkRegisterConfig `yaml:"register"`
	// Limits is call admission control for calls to or from this trunk.
	Limits LimitsConfig `yaml:"limits"`
	// SRTPRequired refuses calls (488) to or from this trunk whose SDP has
	// no SRTP media, in addition to the realm's srtp_required. Default false.
	SRTPRequired bool `yaml:"srtp_required"`
	// TLS is mutual TLS with the trunk's gateways.
	TLS TrunkTLSConfig `yaml:"tls"`
	// HealthCheck probes every gateway with SIP OPTIONS. Absent: no
	// probing, every gateway counts as in service.
	HealthCheck *HealthCheckConfig `yaml:"health_check"`
	// Security is the trunk's ACL and rate limit.
	Security TrunkSecurityConfig `yaml:"security"`
}

// GatewayConfig is one address of a trunk.
type GatewayConfig struct {
	// Address is host:port (host is an IP literal). Required.
	Address string `yaml:"address"`
	// Transport is udp, tcp or tls. Default udp.
	Transport string `yaml:"transport"`
	// Priority orders gateways, lower first. Default 1.
	Priority int `yaml:"priority"`
	// Weight shares load within one priority. Default 1.
	Weight int `yaml:"weight"`
}

// RouteConfig sends matching requests somewhere.
type RouteConfig struct {
	// Name identifies the route in logs and CDRs. Required, unique.
	Name string `yaml:"name"`
	// Match selects requests; every set field must match. An empty match matches all.
	Match MatchConfig `yaml:"match"`
	// Exactly one of Service, Trunks, Registered or Reject (Registered may be
	// combined with Trunks: registered users first, else the trunks).
	//
	// Service is a built-in endpoint: echo or tone.
	Service string `yaml:"service"`
	// Trunks are tried in order.
	Trunks []string `yaml:"trunks"`
	// Registered names the realm whose registered users are the target.
	Registered string `yaml:"registered"`
	// Reject answers with this status code (400-699) and optional reason.
	Reject *RejectConfig `yaml:"reject"`
	// Strategy orders Trunks: ordered (as listed), weighted (random,
	// by Weights), least_cost (by RateTable, cheapest first) or quality
	// (trunks measured below Quality's thresholds last). Default ordered.
	Strategy string `yaml:"strategy"`
	// Weights gives trunks their share for strategy weighted. Default 1 each.
	Weights map[string]int `yaml:"weights"`
	// RateTable names the rate table of strategy least_cost. Required with it.
	RateTable string `yaml:"rate_table"`
	// Quality sets the thresholds of strategy quality. Default values apply.
	Quality *QualityConfig `yaml:"quality"`
	// Translate rewrites numbers when the route is taken, in order.
	Translate []TranslateConfig `yaml:"translate"`
	// Failover says which answers move the call to the next candidate and
	// bounds the attempts.
	Failover FailoverConfig `yaml:"failover"`
}

// RejectConfig is a final response a route answers with.
type RejectConfig struct {
	Code   int    `yaml:"code"`
	Reason string `yaml:"reason"`
}

// MatchConfig selects requests for a route.
type MatchConfig struct {
	// SourceRealm is the realm the request arrived in.
	SourceRealm string `yaml:"source_realm"`
	// SourceTrunk is the trunk whose gateway sent the request.
	SourceTrunk string `yaml:"source_trunk"`
	// RURIUser, RURIHost and FromUser match parts of the request.
	RURIUser StringMatch `yaml:"ruri_user"`
	RURIHost StringMatch `yaml:"ruri_host"`
	FromUser StringMatch `yaml:"from_user"`
	// Headers must all match (any value of a header may match).
	Headers []HeaderMatch `yaml:"headers"`
	// Time restricts the route to days and hours in a time zone.
	Time *TimeMatch `yaml:"time"`
}

// StringMatch matches a string by at most one of exact value, prefix or regex.
type StringMatch struct {
	Exact  string `yaml:"exact"`
	Prefix string `yaml:"prefix"`
	Regex  string `yaml:"regex"`
}

// RuleConfig is one normalisation rule. Action decides which fields apply:
//
//	add_header:     header, value
//	remove_header:  header (all instances)
//	replace_header: header, pattern, replacement (regex on each value, $1 groups)
//	rewrite_uri:    target (ruri_user, from_user, to_user), pattern, replacement
//	strip_option:   header (Require, Supported, Proxy-Require), option
type RuleConfig struct {
	Action      string `yaml:"action"`
	Header      string `yaml:"header"`
	Value       string `yaml:"value"`
	Target      string `yaml:"target"`
	Pattern     string `yaml:"pattern"`
	Replacement string `yaml:"replacement"`
	Option      string `yaml:"option"`
}
