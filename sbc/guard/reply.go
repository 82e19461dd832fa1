package guard

import (
	"bytes"
	"strconv"
)

var reasonPhrases = map[int]string{
	400: "Bad Request", 420: "Bad Extension", 403: "Forbidden", 413: "Request Entity Too Large", 416: "Unsupported URI Scheme",
	488: "Not Acceptable Here", 503: "Service Unavailable", 505: "Version Not Supported", 513: "Message Too Large",
}

// Reply appends to dst a stateless response with code to the request in b
// (scanned into m): the top Via only (the answer goes back to the
// packet's source, never to addresses the request names), From, To with
// a tag, Call-ID and CSeq. It returns dst unchanged when the request has
// no Via to answer or is an ACK.
func Reply(dst []byte, b []byte, m *Msg, code int) []byte {
	if code == 0 || m.Response || !m.topVia.ok() || bytes.Equal(m.method.of(b), []byte("ACK")) {
		return dst
	}
	dst = append(dst, "SIP/2.0 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if r, ok := reasonPhrases[code]; ok {
		dst = append(dst, r...)
	} else {
		dst = append(dst, "Error"...)
	}
	dst = append(dst, "\r\n"...)
	for _, sp := range []span{m.topVia, m.from, m.to, m.callID, m.cseq} {
		if !sp.ok() {
			continue
		}
		dst = append(dst, sp.of(b)...)
		if sp == m.to && !m.ToTag {
			dst = append(dst, ";tag=sbcd-guard"...)
		}
		dst = append(dst, "\r\n"...)
	}
	if code == 420 {
		var tags []byte
		for _, sp := range m.require {
			if sp.ok() {
				tags = unsupported(tags, sp.of(b))
			}
		}
		dst = append(dst, "Unsupported: "...)
		dst = append(dst, tags...)
		dst = append(dst, "\r\n"...)
	}
	if code == 503 {
		dst = append(dst, "Retry-After: 60\r\n"...)
	}
	return append(dst, "Content-Length: 0\r\n\r\n"...)
}
