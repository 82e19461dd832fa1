package e2e

import (
	"fmt"
	"sort"
	"strings"
)

// minTokenLen keeps trivially short strings (a port, "1") out of the
// forbidden set, where they would match by accident.
const minTokenLen = 4

// Forbidden is what one realm's peer must never see: the identifiers of the
// other realm (addresses, Call-IDs, tags, Via branches). Matching is a
// case-insensitive substring search over the raw message.
type Forbidden struct {
	tokens map[string]string // lower-case token -> why it is forbidden
}

// NewForbidden returns an empty set.
func NewForbidden() *Forbidden { return &Forbidden{tokens: map[string]string{}} }

// Add forbids tokens, with a reason shown when one is found. Empty and very
// short tokens are ignored.
func (f *Forbidden) Add(why string, tokens ...string) {
	for _, t := range tokens {
		t = strings.TrimSpace(t)
		if len(t) < minTokenLen {
			continue
		}
		k := strings.ToLower(t)
		if _, ok := f.tokens[k]; !ok {
			f.tokens[k] = why
		}
	}
}

// AddDialogIDs forbids every Call-ID, From/To tag and Via branch found in
// msgs (sent and received), which were seen on the other side.
func (f *Forbidden) AddDialogIDs(side string, msgs []Message) {
	for i := range msgs {
		m := &msgs[i]
		f.Add(side+" Call-ID", m.CallID())
		f.Add(side+" From tag", m.FromTag())
		f.Add(side+" To tag", m.ToTag())
		f.Add(side+" Via branch", m.Branches()...)
	}
}

// Len is the number of forbidden tokens.
func (f *Forbidden) Len() int { return len(f.tokens) }

// Leak is one forbidden token found in a received message.
type Leak struct {
	Token, Why string
	// Index is the position of the message in the scanned slice.
	Index int
	// StartLine of the message and the Line the token was found on.
	StartLine, Line string
}

func (l Leak) String() string {
	return fmt.Sprintf("message %d (%s) leaks %s %q in line %q", l.Index, l.StartLine, l.Why, l.Token, l.Line)
}

// ScanLeaks returns every forbidden token found in msgs, in message order.
// Pass only what a peer received.
func ScanLeaks(msgs []Message, f *Forbidden) []Leak {
	keys := make([]string, 0, len(f.tokens))
	for k := range f.tokens {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Leak
	for i := range msgs {
		raw := strings.ToLower(msgs[i].Raw)
		for _, k := range keys {
			at := strings.Index(raw, k)
			if at < 0 {
				continue
			}
			out = append(out, Leak{
				Token: k, Why: f.tokens[k], Index: i,
				StartLine: msgs[i].StartLine, Line: lineAt(msgs[i].Raw, at),
			})
		}
	}
	return out
}

// lineAt returns the line of s containing byte offset at.
func lineAt(s string, at int) string {
	start := strings.LastIndexByte(s[:at], '\n') + 1
	end := strings.IndexByte(s[at:], '\n')
	if end < 0 {
		end = len(s) - at
	}
	return strings.TrimRight(s[start:at+end], "\r")
}

// Received returns the messages sipp received.
func Received(msgs []Message) []Message {
	var out []Message
	for _, m := range msgs {
		if !m.Sent {
			out = append(out, m)
		}
	}
	return out
}
