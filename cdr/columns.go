package cdr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeLayout is the layout of every time in a CDR file: RFC 3339 in UTC with
// milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// column is one field of a Record as written to files: its name (the CSV
// column and the JSON key) and a pointer into the record.
type column struct {
	name  string
	field func(r *Record) any // a pointer to the field
}

// columns is the stable order of the fields in CSV and JSON lines. New
// fields are only ever appended.
var columns = [...]column{
	{"call_id", func(r *Record) any { return &r.CallID }},
	{"a_call_id", func(r *Record) any { return &r.ACallID }},
	{"b_call_id", func(r *Record) any { return &r.BCallID }},
	{"attempt", func(r *Record) any { return &r.Attempt }},
	{"a_from_user", func(r *Record) any { return &r.AFromUser }},
	{"a_to_user", func(r *Record) any { return &r.AToUser }},
	{"a_ruri_user", func(r *Record) any { return &r.ARURIUser }},
	{"b_from_user", func(r *Record) any { return &r.BFromUser }},
	{"b_to_user", func(r *Record) any { return &r.BToUser }},
	{"b_ruri_user", func(r *Record) any { return &r.BRURIUser }},
	{"ingress_realm", func(r *Record) any { return &r.IngressRealm }},
	{"egress_realm", func(r *Record) any { return &r.EgressRealm }},
	{"trunk", func(r *Record) any { return &r.Trunk }},
	{"gateway", func(r *Record) any { return &r.Gateway }},
	{"invite_time", func(r *Record) any { return &r.InviteTime }},
	{"ring_time", func(r *Record) any { return &r.RingTime }},
	{"answer_time", func(r *Record) any { return &r.AnswerTime }},
	{"end_time", func(r *Record) any { return &r.EndTime }},
	{"setup_ms", func(r *Record) any { return &r.SetupTime }},
	{"duration_ms", func(r *Record) any { return &r.Duration }},
	{"disconnect_cause", func(r *Record) any { return (*string)(&r.Cause) }},
	{"disconnect_side", func(r *Record) any { return (*string)(&r.Side) }},
	{"sip_code", func(r *Record) any { return &r.SIPCode }},
	{"sip_reason", func(r *Record) any { return &r.SIPReason }},
	{"a_codec", func(r *Record) any { return &r.ACodec }},
	{"b_codec", func(r *Record) any { return &r.BCodec }},
	{"a_packets", func(r *Record) any { return &r.AMedia.Packets }},
	{"a_bytes", func(r *Record) any { return &r.AMedia.Bytes }},
	{"a_lost", func(r *Record) any { return &r.AMedia.Lost }},
	{"a_jitter_ms", func(r *Record) any { return &r.AMedia.JitterMs }},
	{"a_mos", func(r *Record) any { return &r.AMedia.MOS }},
	{"b_packets", func(r *Record) any { return &r.BMedia.Packets }},
	{"b_bytes", func(r *Record) any { return &r.BMedia.Bytes }},
	{"b_lost", func(r *Record) any { return &r.BMedia.Lost }},
	{"b_jitter_ms", func(r *Record) any { return &r.BMedia.JitterMs }},
	{"b_mos", func(r *Record) any { return &r.BMedia.MOS }},
	{"transcoded", func(r *Record) any { return &r.Transcoded }},
	{"recording_path", func(r *Record) any { return &r.RecordingPath }},
	{"dtmf", func(r *Record) any { return &r.DTMF }},
	{"account", func(r *Record) any { return &r.Account }},
}

// columnIndex maps a column name to its position in columns.
var columnIndex = func() map[string]int {
	m := make(map[string]int, len(columns))
	for i, c := range columns {
		m[c.name] = i
	}
	return m
}()

// Columns returns the CSV column names (which are also the JSON keys), in
// file order.
func Columns() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// csvHeader is the first line of every CSV file.
var csvHeader = strings.Join(Columns(), ",") + "\n"

// quoted reports whether a column is written as a JSON string.
func quoted(p any) bool {
	switch p.(type) {
	case *string, *time.Time:
		return true
	}
	return false
}

// appendValue appends the text form of the field p points to. Strings are
// appended as they are; the caller escapes them for its format.
func appendValue(dst []byte, p any) []byte {
	switch v := p.(type) {
	case *string:
		return append(dst, *v...)
	case *int:
		return strconv.AppendInt(dst, int64(*v), 10)
	case *uint64:
		return strconv.AppendUint(dst, *v, 10)
	case *float64:
		f := *v
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	case *bool:
		return strconv.AppendBool(dst, *v)
	case *time.Time:
		if v.IsZero() {
			return dst
		}
		return v.UTC().AppendFormat(dst, TimeLayout)
	case *time.Duration:
		return strconv.AppendInt(dst, v.Milliseconds(), 10)
	}
	return dst // unreachable: every column has one of the types above
}

// setValue parses s into the field p points to.
func setValue(p any, s string) error {
	var err error
	switch v := p.(type) {
	case *string:
		*v = s
	case *int:
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		*v = int(n)
	case *uint64:
		*v, err = strconv.ParseUint(s, 10, 64)
	case *float64:
		*v, err = strconv.ParseFloat(s, 64)
		if err == nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			err = fmt.Errorf("%q is not a finite number", s)
		}
	case *bool:
		*v, err = strconv.ParseBool(s)
		if err == nil && s != "true" && s != "false" {
			err = fmt.Errorf("%q is not true or false", s)
		}
	case *time.Time:
		if s == "" {
			*v = time.Time{}
			return nil
		}
		var t time.Time
		t, err = time.Parse(time.RFC3339Nano, s)
		*v = t.UTC()
	case *time.Duration:
		var n int64
		n, err = strconv.ParseInt(s, 10, 64)
		if err == nil && (n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond)) {
			err = fmt.Errorf("%d ms is out of range", n)
		}
		*v = time.Duration(n) * time.Millisecond
	default:
		err = fmt.Errorf("column of unsupported type %T", p) // unreachable: columns is fixed
	}
	return err
}

// AppendCSV appends the record as one CSV line, terminated by "\n". A field
// is quoted when it holds a comma or a double quote. Carriage returns and
// line feeds inside fields are written as spaces and invalid UTF-8 as
// U+FFFD, so every record is exactly one line.
func (r *Record) AppendCSV(dst []byte) []byte {
	for i := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		p := columns[i].field(r)
		if s, ok := p.(*string); ok {
			dst = appendCSVString(dst, *s)
			continue
		}
		dst = appendValue(dst, p)
	}
	return append(dst, '\n')
}

func appendCSVString(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && utf8.ValidString(s) {
		return append(dst, s...)
	}
	q := strings.ContainsAny(s, ",\"")
	if q {
		dst = append(dst, '"')
	}
	for _, c := range s { // invalid UTF-8 comes out as U+FFFD
		switch c {
		case '"':
			dst = append(dst, '"', '"')
		case '\r', '\n':
			dst = append(dst, ' ')
		default:
			dst = utf8.AppendRune(dst, c)
		}
	}
	if q {
		dst = append(dst, '"')
	}
	return dst
}

// AppendJSON appends the record as one JSON object on one line, terminated
// by "\n", with the keys of [Columns] in order. Invalid UTF-8 in strings is
// written as U+FFFD.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, columns[i].name...)
		dst = append(dst, '"', ':')
		p := columns[i].field(r)
		switch v := p.(type) {
		case *string:
			dst = appendJSONString(dst, *v)
		case *time.Time:
			dst = append(dst, '"')
			dst = appendValue(dst, v)
			dst = append(dst, '"')
		default:
			dst = appendValue(dst, p)
		}
	}
	return append(dst, '}', '\n')
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, c := range s { // invalid UTF-8 comes out as U+FFFD
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', byte(c))
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = utf8.AppendRune(dst, c)
		}
	}
	return append(dst, '"')
}
