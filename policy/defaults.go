package policy

import (
	"net/netip"
	"path/filepath"
	"time"
)

// Defaults, as documented on the Config fields.
const (
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultSIPDSCP        = 24
	DefaultMediaDSCP      = 46
	DefaultDrainTimeout   = 30 * time.Second
	DefaultSessionExpires = 1800 * time.Second
	MinSessionExpires     = 90 * time.Second
	DefaultInviteTimeout  = 32 * time.Second
	DefaultUnknownMethod  = 501
	DefaultMaxForwards    = 70
	DefaultMediaTimeout   = 60 * time.Second
	DefaultHoldTimeout    = time.Hour
	DefaultPortDrain      = 5 * time.Second
	DefaultPortMin        = 20000
	DefaultPortMax        = 29999
	DefaultSRTP           = "optional"
	DefaultRefer          = "reject"
	DefaultRedirect       = "recurse"
	DefaultPRACK          = "terminate"
	DefaultTransport      = "udp"
	DefaultPriority       = 1
	DefaultWeight         = 1
)

// DefaultFailoverCodes are the responses that make sbcd try the next
// gateway when a trunk lists none.
func DefaultFailoverCodes() []int { return []int{408, 480, 500, 502, 503, 504} }

// reasonPhrases gives a reject route without a reason its standard phrase.
var reasonPhrases = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout",
	410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
	415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
	421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
	481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
	484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
	500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
	513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
	604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}

// applyDefaults fills every zero field with its documented default and
// resolves relative TLS file names against dir. It tolerates invalid values:
// validation runs afterwards and reports them.
func applyDefaults(c *Config, dir string) {
	setStr(&c.Log.Level, DefaultLogLevel)
	setStr(&c.Log.Format, DefaultLogFormat)

	setIntPtr(&c.SIP.DSCP, DefaultSIPDSCP)
	setDur(&c.SIP.DrainTimeout, DefaultDrainTimeout)
	setDur(&c.SIP.SessionExpires, DefaultSessionExpires)
	setDur(&c.SIP.InviteTimeout, DefaultInviteTimeout)
	setInt(&c.SIP.UnknownMethod, DefaultUnknownMethod)
	setInt(&c.SIP.MaxForwards, DefaultMaxForwards)

	setDur(&c.Media.Timeout, DefaultMediaTimeout)
	setDur(&c.Media.HoldTimeout, DefaultHoldTimeout)
	setDur(&c.Media.PortDrain, DefaultPortDrain)
	c.mediaServicesDefaults(dir)
	c.mediaTonesDefaults(dir)
	c.mediaRelayDefaults()
	c.conferenceDefaults()

	c.CDR.Dir = resolve(dir, c.CDR.Dir)
	c.Capture.Dir = resolve(dir, c.Capture.Dir)
	c.CDR.RADIUS.SpoolDir = resolve(dir, c.CDR.RADIUS.SpoolDir)
	c.Admin.AuditLog = resolve(dir, c.Admin.AuditLog)
	c.Admin.CertFile = resolve(dir, c.Admin.CertFile)
	c.Admin.KeyFile = resolve(dir, c.Admin.KeyFile)
	for i := range c.Realms {
		r := &c.Realms[i]
		for j := range r.Listeners {
			l := &r.Listeners[j]
			l.CertFile = resolve(dir, l.CertFile)
			l.KeyFile = resolve(dir, l.KeyFile)
			if l.Transport == "ws" || l.Transport == "wss" {
				l.WebSocket.applyDefaults()
			}
		}
		first := ""
		if len(r.Listeners) > 0 {
			if ap, err := netip.ParseAddrPort(r.Listeners[0].Address); err == nil {
				first = ap.Addr().String()
			}
		}
		setStr(&r.AdvertisedAddress, first)
		setStr(&r.Media.Address, first)
		setStr(&r.Media.AdvertisedAddress, r.Media.Address)
		setInt(&r.Media.PortMin, DefaultPortMin)
		setInt(&r.Media.PortMax, DefaultPortMax)
		setIntPtr(&r.Media.DSCP, DefaultMediaDSCP)
		setStr(&r.Media.SRTP, DefaultSRTP)
		setStr(&r.Refer, DefaultRefer)
		setStr(&r.Redirect, DefaultRedirect)
		setStr(&r.PRACK, DefaultPRACK)
	}
	c.TURN.applyDefaults(dir)
	c.SNMP.Overload.applyDefaults()
	for i := range c.Trunks {
		t := &c.Trunks[i]
		for j := range t.Gateways {
			g := &t.Gateways[j]
			setStr(&g.Transport, DefaultTransport)
			setInt(&g.Priority, DefaultPriority)
			setInt(&g.Weight, DefaultWeight)
		}
		if len(t.FailoverCodes) == 0 {
			t.FailoverCodes = DefaultFailoverCodes()
		}
	}
	applyAuthDefaults(c, dir)
	applyRouteDefaults(c, dir)
	applySecurityDefaults(c)
	for i := range c.Routes {
		if rj := c.Routes[i].Reject; rj != nil && rj.Reason == "" {
			rj.Reason = reasonPhrases[rj.Code]
		}
	}
}

func resolve(dir, file string) string {
	if file == "" || filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(dir, file)
}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setIntPtr(p **int, def int) {
	if *p == nil {
		*p = &def
	}
}

func setDur(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}
