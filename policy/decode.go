package policy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxErrors bounds how many problems one file reports; after that the
// checker stops with a final note.
const maxErrors = 100

// aliasAllowance is how many node visits beyond the nodes actually written
// in the file alias expansion may cost, so a file of nested aliases cannot
// make the decoder run away.
const aliasAllowance = 100000

var durationType = reflect.TypeFor[time.Duration]()

// decoder walks a yaml.Node tree against the Config types. It is strict (an
// unknown or duplicate key is an error), never stops at the first problem,
// and records the line of every path it decodes.
type decoder struct {
	lines map[string]int
	// poisoned are paths whose value could not be decoded (left zero);
	// validation stays quiet about them to avoid follow-on noise.
	poisoned  []string
	errs      []pathError
	visits    int
	maxVisits int
	budget    bool // stop decoding: maxVisits or maxErrors was exceeded
	capped    bool // the "too many problems" note was added
}

// pathError is a problem located by path and line, before the file name is known.
type pathError struct {
	line int
	path string
	msg  string
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(pathError{line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

// add records a problem, up to maxErrors.
func (d *decoder) add(e pathError) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, e)
		return
	}
	if !d.capped {
		d.capped, d.budget = true, true
		d.errs = append(d.errs, pathError{line: e.line, msg: fmt.Sprintf("too many problems; stopped after %d", maxErrors)})
	}
}

// failValue records a value that could not be decoded and poisons its path.
func (d *decoder) failValue(n *yaml.Node, path, format string, args ...any) {
	d.fail(n, path, format, args...)
	d.poisoned = append(d.poisoned, path)
}

// quiet reports whether a validation problem at path may be a consequence
// of a value that failed to decode: path is, contains or lies under a
// poisoned path.
func (d *decoder) quiet(path string) bool {
	for _, p := range d.poisoned {
		if p == "" || path == "" || p == path || under(path, p) || under(p, path) {
			return true
		}
	}
	return false
}

// under reports whether path lies below ancestor.
func under(path, ancestor string) bool {
	return len(path) > len(ancestor) && path[:len(ancestor)] == ancestor &&
		(path[len(ancestor)] == '.' || path[len(ancestor)] == '[')
}

// kindName names a node kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "nothing"
	}
}

// decode fills v (addressable) from n; path names v in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget {
		return
	}
	d.visits++
	if d.visits > d.maxVisits {
		d.failValue(n, path, "document too complex: aliases expand to more than %d nodes", d.maxVisits)
		d.budget = true
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.failValue(n, path, "unresolved alias")
			return
		}
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
		d.decode(n.Alias, v, path)
		return
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // absent: the zero value, which means "default"
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.failValue(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.failValue(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.failValue(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if v.Type() == durationType {
			d.decodeDuration(n, v, path)
			return
		}
		var i int
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			d.failValue(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			d.failValue(n, path, "expected a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		// Unreachable for the Config types; reported rather than panicking.
		d.failValue(n, path, "unsupported field type %s", v.Type())
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.failValue(n, path, "expected a duration such as \"30s\", got %s", kindName(n))
		return
	}
	if n.Tag == "!!int" {
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil && i == 0 {
			v.SetInt(0)
			return
		}
		d.failValue(n, path, "duration %q needs a unit, such as \"30s\"", n.Value)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.failValue(n, path, "invalid duration %q: use a number with a unit (ns, us, ms, s, m, h), such as \"30s\" or \"1m30s\"", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// fieldIndex maps the yaml tag names of a struct type to field indexes.
func fieldIndex(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = i
	}
	return m
}

// keyOf checks a mapping key: a plain scalar, not a merge key, not seen before.
func (d *decoder) keyOf(k *yaml.Node, path string, seen map[string]int) (string, bool) {
	if k.Kind != yaml.ScalarNode {
		d.fail(k, path, "mapping key must be a string, got %s", kindName(k))
		return "", false
	}
	if k.Tag == "!!merge" {
		d.fail(k, path, "merge keys (<<) are not supported")
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		d.fail(k, join(path, k.Value), "duplicate key (first defined at line %d)", first)
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.failValue(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := fieldIndex(v.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.keyOf(k, path, seen)
		if !ok {
			continue
		}
		p := join(path, name)
		idx, known := fields[name]
		if !known {
			d.fail(k, p, "unknown field %q", name)
			continue
		}
		d.lines[p] = k.Line
		d.decode(val, v.Field(idx), p)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.failValue(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.Content)/2))
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name, ok := d.keyOf(k, path, seen)
		if !ok {
			continue
		}
		p := join(path, name)
		d.lines[p] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, p)
		v.SetMapIndex(reflect.ValueOf(name), elem)
	}
}

// countNodes counts the nodes written in the file (aliases not expanded).
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// join appends a key to a YAML path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
