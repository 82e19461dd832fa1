package sbc

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// message adapts a SIP message to policy.Message for normalisation rules.
// Headers that sbcd owns are not touched by rules (policy validation
// refuses such rules); From/To users are rewritten through User/SetUser.
type message struct {
	m   sipMessage
	req *sip.Request // nil for responses
}

var _ policy.Message = (*message)(nil)

// sipMessage is what requests and responses share beyond sip.Message.
type sipMessage interface {
	sip.Message
	RemoveHeader(name string) bool
	GetHeader(name string) sip.Header
	ContentType() *sip.ContentTypeHeader
}

func (m *message) Headers(name string) []string {
	hs := m.m.GetHeaders(name)
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Value())
	}
	return out
}

func (m *message) SetHeaders(name string, values []string) {
	for m.m.RemoveHeader(name) {
	}
	for _, v := range values {
		m.m.AppendHeader(sip.NewHeader(name, v))
	}
}

func (m *message) User(target string) string {
	switch target {
	case "ruri_user":
		if m.req != nil {
			return m.req.Recipient.User
		}
	case "from_user":
		if f := m.m.From(); f != nil {
			return f.Address.User
		}
	case "to_user":
		if t := m.m.To(); t != nil {
			return t.Address.User
		}
	}
	return ""
}

func (m *message) SetUser(target, user string) {
	switch target {
	case "ruri_user":
		if m.req != nil {
			m.req.Recipient.User = user
		}
	case "from_user":
		if f := m.m.From(); f != nil {
			f.Address.User = user
		}
	case "to_user":
		if t := m.m.To(); t != nil {
			t.Address.User = user
		}
	}
}

// normalizeOut applies the outbound rules of the realm and trunk a request
// is sent into.
func (c *call) normalizeOut(req *sip.Request, pr *policy.Realm, t *policy.Trunk) {
	m := &message{m: req, req: req}
	if pr != nil {
		pr.Outbound.Apply(m)
	}
	if t != nil {
		t.Outbound.Apply(m)
	}
}

// copyAllowed copies the headers the source realm's policy lets cross.
func copyAllowed(from, to *sip.Request, pr *policy.Realm) {
	if pr == nil || len(pr.AllowHeaders) == 0 {
		return
	}
	for _, name := range pr.AllowHeaders {
		for _, h := range from.GetHeaders(name) {
			to.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
}

// headerValue returns the first value of a header, or "".
func headerValue(m sipMessage, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// hasOption tells whether an option tag appears in a header (Require, Supported).
func hasOption(m sipMessage, header, option string) bool {
	for _, h := range m.GetHeaders(header) {
		for _, o := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(o), option) {
				return true
			}
		}
	}
	return false
}

// isSDP tells whether a message body is SDP.
func isSDP(m sipMessage) bool {
	ct := m.ContentType()
	if ct == nil {
		return len(m.Body()) > 0
	}
	return strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp")
}

// sourceAddr is the address a request came from.
func sourceAddr(req *sip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
