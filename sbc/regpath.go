package sbc

import (
	"encoding/base32"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// Path (RFC 3327) for forwarded registrations: sbcd registers the phone's
// own Contact upstream with a Path naming its core-realm address and a
// token of the user; the core then sends calls for the user to that
// Contact with a Route of the token, and sbcd relays them to the user's
// binding over the phone's own flow.

// pathPrefix starts every Path token, so that other Route users are not
// mistaken for one.
const pathPrefix = "ob-"

var pathEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// pathToken is the opaque user part of sbcd's Path URI for a user of a
// realm. It is stateless (it survives a restart together with the
// bindings) and made of characters a SIP user part allows.
func pathToken(realm, user string) string {
	return pathPrefix + strings.ToLower(pathEncoding.EncodeToString([]byte(realm+"\x00"+user)))
}

// parsePathToken reverses pathToken.
func parsePathToken(tok string) (realm, user string, ok bool) {
	rest, found := strings.CutPrefix(tok, pathPrefix)
	if !found || rest == "" {
		return "", "", false
	}
	raw, err := pathEncoding.DecodeString(strings.ToUpper(rest))
	if err != nil {
		return "", "", false
	}
	realm, user, ok = cutKey(string(raw))
	if !ok || realm == "" || user == "" {
		return "", "", false
	}
	return realm, user, true
}

// pathHeader is the Path sbcd adds for a user on the core realm cr.
func pathHeader(cr *realm, transport, realmName, user string) sip.Header {
	u := cr.contact(transport).Address
	u.User = pathToken(realmName, user)
	if u.UriParams == nil {
		u.UriParams = sip.NewParams()
	}
	u.UriParams.Add("lr", "")
	return sip.NewHeader("Path", "<"+u.String()+">")
}

// pathTarget reads the top Route of a request arriving in realm r: when it
// is one of sbcd's Path URIs for a user of a realm that forwards in path
// mode to a registrar in r, it returns that realm and user.
func pathTarget(pol *policy.Set, r *realm, req *sip.Request) (realmName, user string, ok bool) {
	h := req.GetHeader("Route")
	if h == nil {
		return "", "", false
	}
	var ru sip.Uri
	v := strings.TrimSpace(h.Value())
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "<"), ">")
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[:i]
	}
	if err := sip.ParseUri(v, &ru); err != nil {
		return "", "", false
	}
	if !strings.EqualFold(strings.Trim(ru.Host, "[]"), strings.Trim(r.host, "[]")) {
		return "", "", false
	}
	realmName, user, ok = parsePathToken(ru.User)
	if !ok {
		return "", "", false
	}
	pr := pol.Realm(realmName)
	if pr == nil || !pr.Registrar || pr.Registration.Forward == "" || pr.Registration.ForwardMode != "path" {
		return "", "", false
	}
	t := pol.Trunk(pr.Registration.Forward)
	if t == nil || t.Realm.Name != r.name {
		return "", "", false
	}
	return realmName, user, true
}

// pathTargets lists the bindings a Path-routed request goes to: the one
// whose contact is the Request-URI, else every binding of the user.
func (c *call) pathTargets(realmName, user string, ruri sip.Uri) []target {
	all := c.registeredTargets(realmName, user)
	for _, t := range all {
		if sameContact(t.uri, ruri) {
			return []target{t}
		}
	}
	return all
}
