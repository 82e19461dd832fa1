package auth

import (
	"fmt"
	"strings"
)

// MaxHeaderLen bounds an Authorization header value; longer ones are malformed.
const MaxHeaderLen = 4096

// Credentials are the parameters of a Digest Authorization or
// Proxy-Authorization header.
type Credentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string
	Response  string
	Algorithm string
	CNonce    string
	QOP       string
	NC        string
	Opaque    string
}

// ParseCredentials parses a header value of the form
// `Digest username="alice", realm="x", ...`. Unknown parameters are
// ignored; a parameter given twice, an unterminated quoted string or a
// value that is not Digest is an error wrapping ErrMalformed.
func ParseCredentials(v string) (Credentials, error) {
	var c Credentials
	if len(v) > MaxHeaderLen {
		return c, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, MaxHeaderLen)
	}
	v = strings.TrimLeft(v, " \t")
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, fmt.Errorf("%w: scheme %q is not Digest", ErrMalformed, scheme)
	}
	seen := 0
	for {
		rest = strings.TrimLeft(rest, " \t\r\n,")
		if rest == "" {
			break
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return c, fmt.Errorf("%w: parameter without a value", ErrMalformed)
		}
		name := strings.TrimRight(rest[:eq], " \t")
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var ok bool
			val, rest, ok = quoted(rest[1:])
			if !ok {
				return c, fmt.Errorf("%w: unterminated quoted value of %s", ErrMalformed, name)
			}
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		var dst *string
		var bit int
		switch strings.ToLower(name) {
		case "username":
			dst, bit = &c.Username, 1
		case "realm":
			dst, bit = &c.Realm, 2
		case "nonce":
			dst, bit = &c.Nonce, 4
		case "uri":
			dst, bit = &c.URI, 8
		case "response":
			dst, bit = &c.Response, 16
		case "algorithm":
			dst, bit = &c.Algorithm, 32
		case "cnonce":
			dst, bit = &c.CNonce, 64
		case "qop":
			dst, bit = &c.QOP, 128
		case "nc":
			dst, bit = &c.NC, 256
		case "opaque":
			dst, bit = &c.Opaque, 512
		default:
			continue
		}
		if seen&bit != 0 {
			return c, fmt.Errorf("%w: %s given twice", ErrMalformed, name)
		}
		seen |= bit
		*dst = val
	}
	switch {
	case c.Username == "":
		return c, fmt.Errorf("%w: no username", ErrMalformed)
	case c.Nonce == "":
		return c, fmt.Errorf("%w: no nonce", ErrMalformed)
	case c.Response == "":
		return c, fmt.Errorf("%w: no response", ErrMalformed)
	case c.URI == "":
		return c, fmt.Errorf("%w: no uri", ErrMalformed)
	}
	return c, nil
}

// quoted reads a quoted-string body (after the opening quote) and returns
// the unescaped value and the rest after the closing quote.
func quoted(s string) (val, rest string, ok bool) {
	i := strings.IndexAny(s, `"\`)
	if i >= 0 && s[i] == '"' {
		return s[:i], s[i+1:], true // common case: no escapes, no allocation
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// quote renders s as a quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
