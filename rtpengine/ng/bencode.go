package ng

import (
	"fmt"
	"strconv"
)

// Kind is the type of a bencoded value.
type Kind uint8

// The four bencode types. The zero Kind marks an absent value.
const (
	KindNone Kind = iota
	KindString
	KindInt
	KindList
	KindDict
)

// String names the kind for error messages.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInt:
		return "integer"
	case KindList:
		return "list"
	case KindDict:
		return "dictionary"
	default:
		return "none"
	}
}

// Value is one decoded or to-be-encoded bencode value. Only the field that
// matches Kind is meaningful. Decoded byte strings alias the input buffer.
type Value struct {
	Kind Kind
	// Str holds a byte string.
	Str []byte
	// Int holds an integer.
	Int int64
	// List holds the elements of a list.
	List []Value
	// Dict holds the entries of a dictionary in wire order. Keys are not
	// required to be sorted on input (real ng clients do not sort them); on
	// output they are written in the order given.
	Dict []Entry
}

// Entry is one key/value pair of a dictionary.
type Entry struct {
	Key   []byte
	Value Value
}

// Str returns a byte-string value.
func Str(s string) Value { return Value{Kind: KindString, Str: []byte(s)} }

// Bytes returns a byte-string value that aliases b.
func Bytes(b []byte) Value { return Value{Kind: KindString, Str: b} }

// Int returns an integer value.
func Int(n int64) Value { return Value{Kind: KindInt, Int: n} }

// List returns a list value.
func List(vs ...Value) Value { return Value{Kind: KindList, List: vs} }

// NewDict returns an empty dictionary with room for n entries.
func NewDict(n int) Value { return Value{Kind: KindDict, Dict: make([]Entry, 0, n)} }

// Set appends key=val to a dictionary, or replaces the value of an existing
// key. It does nothing when v is not a dictionary.
func (v *Value) Set(key string, val Value) {
	if v.Kind != KindDict {
		return
	}
	for i := range v.Dict {
		if string(v.Dict[i].Key) == key {
			v.Dict[i].Value = val
			return
		}
	}
	v.Dict = append(v.Dict, Entry{Key: []byte(key), Value: val})
}

// Get returns the value of key in a dictionary (the first one when a key is
// repeated). ok is false when v is not a dictionary or has no such key.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != KindDict {
		return Value{}, false
	}
	for i := range v.Dict {
		if string(v.Dict[i].Key) == key {
			return v.Dict[i].Value, true
		}
	}
	return Value{}, false
}

// Text returns a byte string as a Go string; ok is false for other kinds.
func (v Value) Text() (string, bool) {
	if v.Kind != KindString {
		return "", false
	}
	return string(v.Str), true
}

// Limits bound what Decode accepts. Zero fields mean the defaults.
type Limits struct {
	// MaxSize is the largest input in bytes. Default 1 MiB.
	MaxSize int
	// MaxDepth is the deepest nesting of lists and dictionaries. Default 32.
	MaxDepth int
	// MaxItems is the largest number of values (of any kind, at any depth).
	// Default 16384.
	MaxItems int
}

// DefaultLimits are the limits used by Decode.
var DefaultLimits = Limits{MaxSize: 1 << 20, MaxDepth: 32, MaxItems: 16384}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultLimits.MaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultLimits.MaxItems
	}
	return l
}

// Decode parses exactly one bencoded value that must span all of b, with
// DefaultLimits. Byte strings in the result alias b.
func Decode(b []byte) (Value, error) { return DecodeLimits(b, DefaultLimits) }

// DecodeLimits is Decode with explicit limits.
func DecodeLimits(b []byte, lim Limits) (Value, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxSize {
		return Value{}, fmt.Errorf("%w: input of %d bytes exceeds %d", ErrTooLarge, len(b), lim.MaxSize)
	}
	d := decoder{buf: b, lim: lim}
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	if d.pos != len(b) {
		return Value{}, fmt.Errorf("%w: %d bytes after the value at offset %d", ErrTrailing, len(b)-d.pos, d.pos)
	}
	return v, nil
}

type decoder struct {
	buf   []byte
	pos   int
	items int
	lim   Limits
}

func (d *decoder) value(depth int) (Value, error) {
	if d.pos >= len(d.buf) {
		return Value{}, fmt.Errorf("%w: value expected at offset %d", ErrTruncated, d.pos)
	}
	d.items++
	if d.items > d.lim.MaxItems {
		return Value{}, fmt.Errorf("%w: more than %d values", ErrTooLarge, d.lim.MaxItems)
	}
	switch c := d.buf[d.pos]; {
	case c == 'i':
		d.pos++
		n, err := d.integer('e')
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindInt, Int: n}, nil
	case c >= '0' && c <= '9':
		s, err := d.bytes()
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindString, Str: s}, nil
	case c == 'l':
		return d.list(depth + 1)
	case c == 'd':
		return d.dict(depth + 1)
	default:
		return Value{}, fmt.Errorf("%w: unexpected byte %q at offset %d", ErrSyntax, c, d.pos)
	}
}

func (d *decoder) list(depth int) (Value, error) {
	if depth > d.lim.MaxDepth {
		return Value{}, fmt.Errorf("%w: more than %d levels at offset %d", ErrTooDeep, d.lim.MaxDepth, d.pos)
	}
	d.pos++ // 'l'
	v := Value{Kind: KindList}
	for {
		if d.pos >= len(d.buf) {
			return Value{}, fmt.Errorf("%w: list not terminated", ErrTruncated)
		}
		if d.buf[d.pos] == 'e' {
			d.pos++
			return v, nil
		}
		e, err := d.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.List = append(v.List, e)
	}
}

func (d *decoder) dict(depth int) (Value, error) {
	if depth > d.lim.MaxDepth {
		return Value{}, fmt.Errorf("%w: more than %d levels at offset %d", ErrTooDeep, d.lim.MaxDepth, d.pos)
	}
	d.pos++ // 'd'
	v := Value{Kind: KindDict}
	for {
		if d.pos >= len(d.buf) {
			return Value{}, fmt.Errorf("%w: dictionary not terminated", ErrTruncated)
		}
		c := d.buf[d.pos]
		if c == 'e' {
			d.pos++
			return v, nil
		}
		if c < '0' || c > '9' {
			return Value{}, fmt.Errorf("%w: dictionary key must be a string, got %q at offset %d", ErrSyntax, c, d.pos)
		}
		d.items++
		if d.items > d.lim.MaxItems {
			return Value{}, fmt.Errorf("%w: more than %d values", ErrTooLarge, d.lim.MaxItems)
		}
		k, err := d.bytes()
		if err != nil {
			return Value{}, err
		}
		e, err := d.value(depth)
		if err != nil {
			return Value{}, err
		}
		v.Dict = append(v.Dict, Entry{Key: k, Value: e})
	}
}

// bytes parses "<len>:<bytes>".
func (d *decoder) bytes() ([]byte, error) {
	start := d.pos
	n, err := d.integer(':')
	if err != nil {
		return nil, err
	}
	if n < 0 || d.buf[start] == '-' {
		return nil, fmt.Errorf("%w: negative string length at offset %d", ErrSyntax, start)
	}
	if n > int64(d.lim.MaxSize) {
		return nil, fmt.Errorf("%w: string length %d at offset %d", ErrTooLarge, n, start)
	}
	if n > int64(len(d.buf)-d.pos) {
		return nil, fmt.Errorf("%w: string of %d bytes at offset %d has %d", ErrTruncated, n, start, len(d.buf)-d.pos)
	}
	s := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

// integer parses a decimal integer up to the terminator and consumes it.
// It rejects leading zeros, "-0", empty digits and overflow.
func (d *decoder) integer(term byte) (int64, error) {
	start := d.pos
	neg := false
	if d.pos < len(d.buf) && d.buf[d.pos] == '-' {
		neg = true
		d.pos++
	}
	digits := d.pos
	var n uint64
	for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
		if d.pos-digits >= 19 {
			return 0, fmt.Errorf("%w: integer at offset %d has too many digits", ErrTooLarge, start)
		}
		n = n*10 + uint64(d.buf[d.pos]-'0')
		d.pos++
	}
	if d.pos >= len(d.buf) {
		return 0, fmt.Errorf("%w: integer at offset %d not terminated", ErrTruncated, start)
	}
	if d.buf[d.pos] != term {
		return 0, fmt.Errorf("%w: unexpected byte %q in integer at offset %d", ErrSyntax, d.buf[d.pos], d.pos)
	}
	nd := d.pos - digits
	if nd == 0 {
		return 0, fmt.Errorf("%w: integer without digits at offset %d", ErrSyntax, start)
	}
	if d.buf[digits] == '0' && (nd > 1 || neg) {
		return 0, fmt.Errorf("%w: integer with leading zero at offset %d", ErrSyntax, start)
	}
	d.pos++ // terminator
	// 19 digits fit in uint64; int64 range is checked here.
	if neg {
		if n > 1<<63 {
			return 0, fmt.Errorf("%w: integer at offset %d overflows int64", ErrTooLarge, start)
		}
		return -int64(n), nil // n == 1<<63 converts to MinInt64, whose negation is itself
	}
	if n > 1<<63-1 {
		return 0, fmt.Errorf("%w: integer at offset %d overflows int64", ErrTooLarge, start)
	}
	return int64(n), nil
}

// Encode returns the bencoding of v.
func Encode(v Value) []byte { return AppendEncode(nil, v) }

// AppendEncode appends the bencoding of v to dst. Values of KindNone are
// written as empty strings so the output is always well formed.
func AppendEncode(dst []byte, v Value) []byte {
	switch v.Kind {
	case KindInt:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, v.Int, 10)
		return append(dst, 'e')
	case KindList:
		dst = append(dst, 'l')
		for i := range v.List {
			dst = AppendEncode(dst, v.List[i])
		}
		return append(dst, 'e')
	case KindDict:
		dst = append(dst, 'd')
		for i := range v.Dict {
			dst = appendString(dst, v.Dict[i].Key)
			dst = AppendEncode(dst, v.Dict[i].Value)
		}
		return append(dst, 'e')
	default:
		return appendString(dst, v.Str)
	}
}

func appendString(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}
