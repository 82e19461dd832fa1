package guard

import (
	"bytes"
	"unicode/utf8"
)

// span is a [start, end) range of the message bytes.
type span struct{ s, e int }

func (sp span) of(b []byte) []byte {
	if sp.e <= sp.s || sp.e > len(b) {
		return nil
	}
	return b[sp.s:sp.e]
}
func (sp span) ok() bool { return sp.e > sp.s }

// Msg is what the raw scan learns about a message without parsing it:
// offsets into the scanned bytes, never copies.
type Msg struct {
	Response bool
	Status   int
	method   span
	ruri     span
	// version of a request line.
	version span
	// Headers is the number of header lines; Vias the number of Via values.
	Headers, Vias int
	// topVia, from, to, callID, cseq are whole header lines (name included,
	// CRLF excluded) for stateless answers.
	topVia, from, to, callID, cseq span
	userAgent                      span
	contentType                    span
	// ContentLength is -1 when absent.
	ContentLength int
	// BodyStart is the offset of the body (after the empty line).
	BodyStart int
	// ToTag reports a tag on To (an in-dialog request).
	ToTag      bool
	cseqMethod span
	maxFwd     int
	// require holds the values of Require and Proxy-Require.
	require [2]span
	// branch is the top Via's branch value (empty when it has none).
	branch span
}

// Method returns the request method (nil for a response).
func (m *Msg) Method(b []byte) []byte { return m.method.of(b) }

// UserAgent returns the User-Agent (request) or Server (response) value.
func (m *Msg) UserAgent(b []byte) []byte { return m.userAgent.of(b) }

// uriUser returns the user part of the first SIP URI in v, or nil.
func uriUser(v []byte) []byte {
	i := bytes.Index(v, []byte("sip:"))
	skip := 4
	if j := bytes.Index(v, []byte("sips:")); j >= 0 && (i < 0 || j < i) {
		i, skip = j, 5
	}
	if i < 0 {
		return nil
	}
	v = v[i+skip:]
	for k, c := range v {
		switch c {
		case '@':
			return v[:k]
		case '>', ';', ' ', '\t', ',', '?':
			return nil
		}
	}
	return nil
}

// ToUser returns the user of the To URI.
func (m *Msg) ToUser(b []byte) []byte { return uriUser(m.to.of(b)) }

// FromUser returns the user of the From URI.
func (m *Msg) FromUser(b []byte) []byte { return uriUser(m.from.of(b)) }

// RURIUser returns the user of the Request-URI.
func (m *Msg) RURIUser(b []byte) []byte {
	u := m.ruri.of(b)
	if bytes.HasPrefix(u, []byte("sip:")) || bytes.HasPrefix(u, []byte("sips:")) {
		return uriUser(u)
	}
	return nil
}

// header name forms, lower case; compact forms of RFC 3261 7.3.3.
const (
	hOther = iota
	hVia
	hFrom
	hTo
	hCallID
	hCSeq
	hCL
	hMaxFwd
	hUA
	hServer
	hCT
	hRequire
	hProxyRequire
)

func headerKind(name []byte) int {
	switch len(name) {
	case 1:
		switch name[0] | 0x20 {
		case 'v':
			return hVia
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'i':
			return hCallID
		case 'l':
			return hCL
		case 'c':
			return hCT
		}
	case 2:
		if eqFold(name, "to") {
			return hTo
		}
	case 3:
		if eqFold(name, "via") {
			return hVia
		}
	case 4:
		if eqFold(name, "from") {
			return hFrom
		}
		if eqFold(name, "cseq") {
			return hCSeq
		}
	case 6:
		if eqFold(name, "server") {
			return hServer
		}
	case 7:
		if eqFold(name, "call-id") {
			return hCallID
		}
		if eqFold(name, "require") {
			return hRequire
		}
	case 10:
		if eqFold(name, "user-agent") {
			return hUA
		}
	case 12:
		if eqFold(name, "max-forwards") {
			return hMaxFwd
		}
		if eqFold(name, "content-type") {
			return hCT
		}
	case 13:
		if eqFold(name, "proxy-require") {
			return hProxyRequire
		}
	case 14:
		if eqFold(name, "content-length") {
			return hCL
		}
	}
	return hOther
}

// eqFold compares b with the lower-case ASCII s, ignoring case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

func trimLWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// atoi parses a non-negative decimal of at most 10 digits; -1 on error.
func atoi(b []byte) int {
	b = trimLWS(b)
	if len(b) == 0 || len(b) > 10 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// countVias counts the comma-separated values of one Via header line
// (commas inside quoted strings do not separate).
func countVias(v []byte) int {
	n, q := 1, false
	for _, c := range v {
		switch c {
		case '"':
			q = !q
		case ',':
			if !q {
				n++
			}
		}
	}
	return n
}

// Scan checks the bytes of one message (a datagram, or one framed message
// of a stream) against the sanity limits and fills m. It does not allocate.
// A zero Problem means the bytes are sane enough to hand to the parser.
func Scan(b []byte, lim *Limits, stream bool, m *Msg) Problem {
	*m = Msg{ContentLength: -1, maxFwd: -1}
	if len(b) > lim.MaxMessage {
		m.scanHeadersForReply(b)
		return Problem{Code: 513, Reason: ReasonTooLarge}
	}
	// Start line.
	eol := bytes.Index(b, crlf)
	if eol <= 0 {
		return Problem{Reason: ReasonNoStartLine}
	}
	line := b[:eol]
	if bytes.HasPrefix(line, []byte("SIP/")) {
		m.Response = true
		if len(line) < 12 || line[11] != ' ' && len(line) != 11 {
			return Problem{Reason: ReasonBadStartLine}
		}
		m.Status = atoi(line[8:11])
		if m.Status < 100 || m.Status > 699 {
			return Problem{Reason: ReasonBadStartLine}
		}
	} else {
		sp1 := bytes.IndexByte(line, ' ')
		if sp1 <= 0 {
			return Problem{Reason: ReasonBadStartLine}
		}
		sp2 := bytes.LastIndexByte(line, ' ')
		m.method = span{0, sp1}
		if sp2 <= sp1+1 || sp2 == len(line)-1 {
			m.scanHeadersForReply(b)
			return Problem{Code: 400, Reason: ReasonBadStartLine}
		}
		m.ruri = span{sp1 + 1, sp2}
		m.version = span{sp2 + 1, eol}
	}
	// Headers.
	pos := eol + 2
	var nFrom, nTo, nCallID, nCSeq, nCL, nMaxFwd int
	problem := Problem{}
	for {
		if pos >= len(b) {
			if stream {
				return Problem{Reason: ReasonTruncated}
			}
			// A datagram may end without the empty line (RFC 2543 peers);
			// treat the end as the end of the headers.
			m.BodyStart = len(b)
			break
		}
		e := bytes.Index(b[pos:], crlf)
		if e < 0 {
			e = len(b) - pos
		}
		if e == 0 {
			m.BodyStart = pos + 2
			break
		}
		// Folded continuation lines belong to the header.
		end := pos + e
		for end+2 < len(b) && (b[end+2] == ' ' || b[end+2] == '\t') {
			n := bytes.Index(b[end+2:], crlf)
			if n < 0 {
				end = len(b)
				break
			}
			end += 2 + n
		}
		hl := b[pos:end]
		m.Headers++
		if m.Headers > lim.MaxHeaders {
			m.scanHeadersForReply(b)
			return Problem{Code: 400, Reason: ReasonTooManyHeaders}
		}
		if len(hl) > lim.MaxHeaderLine {
			m.scanHeadersForReply(b)
			return Problem{Code: 400, Reason: ReasonHeaderTooLong}
		}
		if hasBareNUL(hl) {
			m.scanHeadersForReply(b)
			return Problem{Code: 400, Reason: ReasonNUL}
		}
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 {
			if problem.Reason == "" {
				problem = Problem{Code: 400, Reason: ReasonBadHeader}
			}
			pos = end + 2
			continue
		}
		name := trimLWS(hl[:colon])
		val := hl[colon+1:]
		sp := span{pos, end}
		switch headerKind(name) {
		case hVia:
			if !m.topVia.ok() {
				m.topVia = sp
				// Only the first value is answered to.
				if c := firstValueEnd(val); c >= 0 {
					m.topVia = span{pos, pos + colon + 1 + c}
				}
				if !viaBranchOK(val) && problem.Reason == "" {
					problem = Problem{Code: 400, Reason: ReasonBadBranch}
				}
			}
			m.Vias += countVias(val)
			if m.Vias > lim.MaxVia {
				m.scanHeadersForReply(b)
				return Problem{Code: 400, Reason: ReasonTooManyVia}
			}
		case hFrom:
			nFrom++
			m.from = sp
		case hTo:
			nTo++
			m.to = sp
			m.ToTag = hasTag(val)
		case hCallID:
			nCallID++
			m.callID = sp
		case hCSeq:
			nCSeq++
			m.cseq = sp
			v := trimLWS(val)
			sp := bytes.IndexAny(v, " \t")
			num := -1
			if sp > 0 {
				num = atoi(v[:sp])
				meth := trimLWS(v[sp:])
				off := pos + colon + 1 + (len(val) - len(trimLeft(val))) + (len(v) - len(meth))
				m.cseqMethod = span{off, off + len(meth)}
			}
			if num < 0 && problem.Reason == "" {
				problem = Problem{Code: 400, Reason: ReasonBadCSeq}
			}
		case hCL:
			nCL++
			n := atoi(val)
			if n < 0 || (m.ContentLength >= 0 && n != m.ContentLength) {
				m.scanHeadersForReply(b)
				return Problem{Code: 400, Reason: ReasonBadContentLength}
			}
			m.ContentLength = n
		case hMaxFwd:
			nMaxFwd++
			m.maxFwd = atoi(val)
			if (m.maxFwd < 0 || m.maxFwd > lim.MaxForwards) && problem.Reason == "" {
				problem = Problem{Code: 400, Reason: ReasonBadMaxForwards}
			}
		case hUA:
			if !m.Response {
				m.userAgent = span{pos + colon + 1, end}
			}
		case hServer:
			if m.Response {
				m.userAgent = span{pos + colon + 1, end}
			}
		case hCT:
			m.contentType = span{pos + colon + 1, end}
		case hRequire:
			m.require[0] = span{pos + colon + 1, end}
		case hProxyRequire:
			m.require[1] = span{pos + colon + 1, end}
		}
		pos = end + 2
	}
	hdrEnd := m.BodyStart
	if !utf8.Valid(b[:hdrEnd]) {
		return Problem{Code: 400, Reason: ReasonBadUTF8}
	}
	if problem.Reason != "" {
		return problem
	}
	if !m.topVia.ok() || nFrom == 0 || nTo == 0 || nCallID == 0 || nCSeq == 0 {
		return Problem{Code: 400, Reason: ReasonMissingHeader}
	}
	if nFrom > 1 || nTo > 1 || nCallID > 1 || nCSeq > 1 || nMaxFwd > 1 {
		return Problem{Code: 400, Reason: ReasonDuplicateHeader}
	}
	body := len(b) - m.BodyStart
	if m.ContentLength > body {
		return Problem{Code: 400, Reason: ReasonBadContentLength}
	}
	if m.ContentLength > lim.MaxBody || (m.ContentLength < 0 && body > lim.MaxBody) {
		return Problem{Code: 413, Reason: ReasonBodyTooLarge}
	}
	if m.ContentLength < 0 && stream {
		return Problem{Code: 400, Reason: ReasonBadContentLength}
	}
	if !m.Response {
		if !bytes.Equal(m.version.of(b), []byte("SIP/2.0")) {
			if bytes.HasPrefix(m.version.of(b), []byte("SIP/")) {
				return Problem{Code: 505, Reason: ReasonBadVersion}
			}
			return Problem{Code: 400, Reason: ReasonBadStartLine}
		}
		if !bytes.EqualFold(m.cseqMethod.of(b), m.method.of(b)) {
			return Problem{Code: 400, Reason: ReasonCSeqMethod}
		}
		if c := schemeCode(m.ruri.of(b)); c != 0 {
			return Problem{Code: c, Reason: ReasonURIScheme}
		}
		for _, sp := range m.require {
			if sp.ok() && len(unsupported(nil, sp.of(b))) > 0 {
				return Problem{Code: 420, Reason: ReasonBadExtension}
			}
		}
	}
	return Problem{}
}

// hasBareNUL reports a NUL byte that is not a quoted-pair (RFC 3261 25.1
// allows "\" followed by any octet but CR and LF inside quoted strings).
func hasBareNUL(hl []byte) bool {
	for i := bytes.IndexByte(hl, 0); i >= 0; {
		if i == 0 || hl[i-1] != '\\' {
			return true
		}
		j := bytes.IndexByte(hl[i+1:], 0)
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// schemeCode checks a Request-URI's scheme: 0 for sip, sips and tel, 416
// for another well-formed scheme, 400 for none.
func schemeCode(u []byte) int {
	c := bytes.IndexByte(u, ':')
	if c <= 0 {
		return 400
	}
	scheme := u[:c]
	for i, ch := range scheme {
		alpha := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if !alpha && (i == 0 || !(ch >= '0' && ch <= '9' || ch == '+' || ch == '-' || ch == '.')) {
			return 400
		}
	}
	if eqFold(scheme, "sip") || eqFold(scheme, "sips") || eqFold(scheme, "tel") {
		return 0
	}
	return 416
}

// supportedOptions are the option tags sbcd implements.
var supportedOptions = []string{"100rel", "timer", "replaces"}

// unsupported appends to dst the option tags of a Require value sbcd
// does not support, comma-separated.
func unsupported(dst, v []byte) []byte {
	for len(v) > 0 {
		var tag []byte
		if c := bytes.IndexByte(v, ','); c >= 0 {
			tag, v = trimLWS(v[:c]), v[c+1:]
		} else {
			tag, v = trimLWS(v), nil
		}
		if len(tag) == 0 {
			continue
		}
		known := false
		for _, s := range supportedOptions {
			if eqFold(tag, s) {
				known = true
				break
			}
		}
		if !known {
			if len(dst) > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, tag...)
		}
	}
	return dst
}

// trimLeft drops leading LWS.
func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// firstValueEnd returns the offset in v of the comma ending its first
// value, or -1 when v holds one value.
func firstValueEnd(v []byte) int {
	q := false
	for i, c := range v {
		switch c {
		case '"':
			q = !q
		case ',':
			if !q {
				return i
			}
		}
	}
	return -1
}

// viaBranchOK rejects a top Via whose branch is only the RFC 3261 magic
// cookie or empty. A Via without a branch is an RFC 2543 peer: accepted.
func viaBranchOK(v []byte) bool {
	if e := firstValueEnd(v); e >= 0 {
		v = v[:e]
	}
	i := indexFold(v, "branch")
	if i < 0 {
		return true
	}
	rest := trimLeft(v[i+6:])
	if len(rest) == 0 || rest[0] != '=' {
		return true // "branch" inside another parameter's value
	}
	rest = trimLeft(rest[1:])
	end := bytes.IndexAny(rest, ";, \t\r\n")
	if end < 0 {
		end = len(rest)
	}
	br := rest[:end]
	return len(br) > 0 && !eqFold(br, "z9hg4bk")
}

// hasTag reports a tag parameter in a From/To value (outside the URI).
func hasTag(v []byte) bool {
	if gt := bytes.LastIndexByte(v, '>'); gt >= 0 {
		v = v[gt:]
	}
	i := indexFold(v, ";tag=")
	if i < 0 {
		i = indexFold(v, "; tag=")
	}
	return i >= 0
}

// indexFold finds the lower-case ASCII s in b, ignoring case.
func indexFold(b []byte, s string) int {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		if b[i]|0x20 == s[0] && eqFold(b[i:i+n], s) {
			return i
		}
	}
	return -1
}

// scanHeadersForReply locates the headers a stateless answer needs when
// the main scan stopped early. It stops at the first empty line and
// bounds its own work.
func (m *Msg) scanHeadersForReply(b []byte) {
	pos := bytes.Index(b, crlf)
	if pos < 0 {
		return
	}
	if len(b) > 0 && !bytes.HasPrefix(b, []byte("SIP/")) {
		if sp := bytes.IndexByte(b[:pos], ' '); sp > 0 {
			m.method = span{0, sp}
		}
	} else {
		m.Response = true
	}
	pos += 2
	for n := 0; n < 4096 && pos < len(b); n++ {
		e := bytes.Index(b[pos:], crlf)
		if e <= 0 {
			return
		}
		hl := b[pos : pos+e]
		if colon := bytes.IndexByte(hl, ':'); colon > 0 {
			sp := span{pos, pos + e}
			val := hl[colon+1:]
			switch headerKind(trimLWS(hl[:colon])) {
			case hVia:
				if !m.topVia.ok() {
					m.topVia = sp
					if c := firstValueEnd(val); c >= 0 {
						m.topVia = span{pos, pos + colon + 1 + c}
					}
				}
			case hFrom:
				m.from = sp
			case hTo:
				m.to = sp
				m.ToTag = hasTag(val)
			case hCallID:
				m.callID = sp
			case hCSeq:
				m.cseq = sp
			}
		}
		pos += e + 2
	}
}

var crlf = []byte("\r\n")
