package policy

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every Errors value: the policy file
// was read but is not a valid policy.
var ErrInvalid = errors.New("policy: invalid configuration")

// ErrTooLarge is returned (wrapped) when a policy file exceeds MaxFileSize.
var ErrTooLarge = errors.New("policy: file too large")

// FieldError is one problem found in a policy file, located by line and by
// YAML path (for example realms[0].listeners[1].transport).
type FieldError struct {
	// File is the name the policy was loaded from.
	File string
	// Line is the 1-based line of the offending key or value; 0 if unknown.
	Line int
	// Path is the YAML path of the offending value; empty for syntax errors.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line: path: msg".
func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a policy file, in file order. Parse and
// Load return it as their error; retrieve it with errors.As.
type Errors []FieldError

// Error joins the problems with newlines.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid }
