package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Message is one SIP message as sipp logged it with -trace_msg.
type Message struct {
	// Time is when sipp sent or received it (local clock).
	Time time.Time
	// Sent is true for messages sipp sent, false for those it received.
	Sent bool
	// Raw is the message exactly as logged: start line, headers, body.
	Raw string
	// StartLine is the request or status line.
	StartLine string
	// Body is everything after the blank line that ends the headers.
	Body    string
	headers [][2]string // lower-case full name, value
}

// compact maps RFC 3261 compact header forms to full names.
var compact = map[string]string{
	"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
	"l": "content-length", "c": "content-type", "k": "supported",
	"s": "subject", "e": "content-encoding", "o": "event", "r": "refer-to",
	"x": "session-expires", "b": "referred-by",
}

var (
	logSep   = regexp.MustCompile(`^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$`)
	logEntry = regexp.MustCompile(`^(UDP|TCP|TLS|SCTP|WS|WSS) message (sent|received)`)
)

// ParseMessageLog parses a sipp -message_file into its messages, in order.
func ParseMessageLog(data []byte) ([]Message, error) {
	var (
		out     []Message
		cur     *Message
		lines   []string
		inBody  bool
		lineNum int
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		// sipp writes the message and one "\n"; the scanner dropped the line ends
		raw := strings.Join(lines, "\n")
		m, err := ParseMessage(raw)
		if err != nil {
			return fmt.Errorf("message log line %d: %w", lineNum, err)
		}
		m.Time, m.Sent = cur.Time, cur.Sent
		out = append(out, m)
		cur, lines, inBody = nil, nil, false
		return nil
	}
	// split by hand: bufio.ScanLines would also drop the CRs of the SIP text
	var stamp time.Time
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		lineNum++
		if m := logSep.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			ts, err := time.ParseInLocation("2006-01-02 15:04:05.999999", m[1], time.Local)
			if err != nil {
				return nil, fmt.Errorf("message log line %d: %w", lineNum, err)
			}
			stamp = ts
			continue
		}
		if cur == nil {
			if m := logEntry.FindStringSubmatch(line); m != nil {
				cur = &Message{Time: stamp, Sent: m[2] == "sent"}
			}
			continue
		}
		if !inBody {
			if line == "" && len(lines) == 0 {
				continue // blank line between entry header and message
			}
			inBody = true
		}
		lines = append(lines, line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseMessage parses one SIP message (CRLF or LF line ends).
func ParseMessage(raw string) (Message, error) {
	m := Message{Raw: raw}
	text := strings.ReplaceAll(raw, "\r\n", "\n")
	head, body, _ := strings.Cut(text, "\n\n")
	m.Body = body
	hl := strings.Split(head, "\n")
	m.StartLine = strings.TrimSpace(hl[0])
	if m.StartLine == "" {
		return m, fmt.Errorf("%w: empty start line", ErrBadMessage)
	}
	if !strings.HasPrefix(m.StartLine, "SIP/2.0 ") && !strings.HasSuffix(m.StartLine, " SIP/2.0") {
		return m, fmt.Errorf("%w: start line %q", ErrBadMessage, m.StartLine)
	}
	for _, l := range hl[1:] {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(m.headers) > 0 {
			m.headers[len(m.headers)-1][1] += " " + strings.TrimSpace(l)
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			return m, fmt.Errorf("%w: header line %q", ErrBadMessage, l)
		}
		n := strings.ToLower(strings.TrimSpace(name))
		if full, ok := compact[n]; ok {
			n = full
		}
		m.headers = append(m.headers, [2]string{n, strings.TrimSpace(val)})
	}
	return m, nil
}

// IsRequest reports whether the message is a request.
func (m *Message) IsRequest() bool { return !strings.HasPrefix(m.StartLine, "SIP/2.0 ") }

// Method is the request method, or for a response the method of its CSeq.
func (m *Message) Method() string {
	if m.IsRequest() {
		meth, _, _ := strings.Cut(m.StartLine, " ")
		return meth
	}
	_, meth := m.CSeq()
	return meth
}

// Status is the status code of a response, 0 for a request.
func (m *Message) Status() int {
	if m.IsRequest() {
		return 0
	}
	f := strings.Fields(m.StartLine)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// RequestURI is the Request-URI of a request.
func (m *Message) RequestURI() string {
	f := strings.Fields(m.StartLine)
	if !m.IsRequest() || len(f) < 2 {
		return ""
	}
	return f[1]
}

// Headers returns every value of the named header (compact forms included),
// splitting comma-separated Via values.
func (m *Message) Headers(name string) []string {
	n := strings.ToLower(name)
	if full, ok := compact[n]; ok {
		n = full
	}
	var out []string
	for _, h := range m.headers {
		if h[0] != n {
			continue
		}
		if n == "via" {
			for _, v := range strings.Split(h[1], ",") {
				out = append(out, strings.TrimSpace(v))
			}
			continue
		}
		out = append(out, h[1])
	}
	return out
}

// Header returns the first value of the named header, or "".
func (m *Message) Header(name string) string {
	if v := m.Headers(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// CallID is the Call-ID.
func (m *Message) CallID() string { return m.Header("Call-ID") }

// CSeq returns the sequence number and method.
func (m *Message) CSeq() (int, string) {
	f := strings.Fields(m.Header("CSeq"))
	if len(f) != 2 {
		return 0, ""
	}
	n, _ := strconv.Atoi(f[0])
	return n, f[1]
}

// FromTag is the tag parameter of From.
func (m *Message) FromTag() string { return Param(m.Header("From"), "tag") }

// ToTag is the tag parameter of To.
func (m *Message) ToTag() string { return Param(m.Header("To"), "tag") }

// Branches are the branch parameters of every Via, top first.
func (m *Message) Branches() []string {
	var out []string
	for _, v := range m.Headers("Via") {
		if b := Param(v, "branch"); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// MaxForwards is the Max-Forwards value, or -1 when absent or malformed.
func (m *Message) MaxForwards() int {
	n, err := strconv.Atoi(m.Header("Max-Forwards"))
	if err != nil {
		return -1
	}
	return n
}

// Param returns a header parameter (after the URI's closing '>' when the
// value has one), or "".
func Param(value, name string) string {
	if i := strings.LastIndexByte(value, '>'); i >= 0 {
		value = value[i+1:]
	}
	for _, p := range strings.Split(value, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// SDPConnection returns the first c= address and the first m= port of an
// SDP body.
func SDPConnection(body string) (addr string, port int, err error) {
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "c=") && addr == "":
			f := strings.Fields(l[2:])
			if len(f) == 3 {
				addr = f[2]
			}
		case strings.HasPrefix(l, "m=") && port == 0:
			f := strings.Fields(l[2:])
			if len(f) >= 2 {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	if addr == "" || port == 0 {
		return "", 0, fmt.Errorf("%w: no c= address or m= port", ErrBadMessage)
	}
	return addr, port, nil
}

// SDPAttr reports whether an SDP body has the attribute line "a=<attr>".
func SDPAttr(body, attr string) bool {
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) == "a="+attr {
			return true
		}
	}
	return false
}

// splitLines splits text on CRLF or LF.
func splitLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}
