package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds the size of a policy file.
const MaxFileSize = 16 << 20

// Load reads the policy file at path and parses it with Parse. Relative TLS
// file names in the policy are resolved against the file's directory.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, MaxFileSize)
	}
	return Parse(path, data)
}

// Parse decodes data strictly, fills defaults, validates the result and
// compiles it into a *Set. file names the source in error messages and
// anchors relative TLS file names (its directory). On failure the error is
// an Errors value listing every problem found, in file order.
func Parse(file string, data []byte) (*Set, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, file, MaxFileSize)
	}
	var cfg Config
	d := &decoder{lines: make(map[string]int)}
	root, perr := parseYAML(data)
	if perr != nil {
		return nil, Errors{{File: file, Line: perr.line, Msg: perr.msg}}
	}
	if root != nil {
		d.maxVisits = countNodes(root) + aliasAllowance
		d.lines[""] = root.Line
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	if d.budget {
		return nil, d.errors(file)
	}
	applyDefaults(&cfg, filepath.Dir(file))
	applyRegistrationDefaults(&cfg, filepath.Dir(file))
	v := &validator{decoder: d, cfg: &cfg}
	v.validate()
	v.registrationCheck()
	if len(d.errs) > 0 {
		return nil, d.errors(file)
	}
	s, err := compile(&cfg)
	if err != nil {
		return nil, fmt.Errorf("policy: %s: %w", file, err)
	}
	sum := sha256.Sum256(data)
	s.hash = hex.EncodeToString(sum[:])
	s.source = append([]byte(nil), data...)
	return s, nil
}

// parseYAML reads exactly one YAML document into a node tree; nil means an
// empty file.
func parseYAML(data []byte) (root *yaml.Node, perr *pathError) {
	defer func() {
		// yaml.v3 is third-party code fed untrusted bytes: a panic in it
		// becomes an ordinary error rather than taking the daemon down.
		if r := recover(); r != nil {
			root, perr = nil, &pathError{msg: fmt.Sprintf("yaml: internal error: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &pathError{line: extra.Line, msg: "more than one YAML document in the file"}
	}
	return &doc, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into a located problem.
func yamlError(err error) *pathError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &pathError{line: line, msg: "yaml: " + m[2]}
	}
	return &pathError{msg: msg}
}

// errors returns the collected problems in file order.
func (d *decoder) errors(file string) Errors {
	out := make(Errors, len(d.errs))
	for i, e := range d.errs {
		out[i] = FieldError{File: file, Line: e.line, Path: e.path, Msg: e.msg}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// lineOf finds the line of path, or of its nearest ancestor present in the
// file (a missing required field is reported at its parent).
func (d *decoder) lineOf(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}
