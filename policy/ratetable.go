package policy

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxRateFileSize bounds a rate table's CSV file.
const MaxRateFileSize = 64 << 20

// rateTable is a compiled RateTableConfig: per trunk, cost by prefix.
type rateTable struct {
	name    string
	byTrunk map[string]map[string]float64
	maxLen  map[string]int
}

func newRateTable(name string, rates []RateConfig) *rateTable {
	rt := &rateTable{name: name, byTrunk: map[string]map[string]float64{}, maxLen: map[string]int{}}
	for _, r := range rates {
		m := rt.byTrunk[r.Trunk]
		if m == nil {
			m = map[string]float64{}
			rt.byTrunk[r.Trunk] = m
		}
		m[r.Prefix] = r.Cost
		rt.maxLen[r.Trunk] = max(rt.maxLen[r.Trunk], len(r.Prefix))
	}
	return rt
}

// lookup finds the rate of the longest prefix of number that trunk has.
func (rt *rateTable) lookup(trunk, number string) (prefix string, cost float64, ok bool) {
	if rt == nil {
		return "", 0, false
	}
	m := rt.byTrunk[trunk]
	if m == nil {
		return "", 0, false
	}
	for l := min(len(number), rt.maxLen[trunk]); l >= 0; l-- {
		if c, found := m[number[:l]]; found {
			return number[:l], c, true
		}
	}
	return "", 0, false
}

// rateLineError is a problem on one line of a rate file.
type rateLineError struct {
	line int
	msg  string
}

func (e rateLineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// readRateFile reads a CSV rate file: prefix,trunk,cost per line, an
// optional header line (prefix,trunk,cost), blank lines and # comments.
func readRateFile(path string) ([]RateConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathErr(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRateFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRateFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxRateFileSize)
	}
	return parseRates(data)
}

// parseRates parses the CSV form of a rate table.
func parseRates(data []byte) ([]RateConfig, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var out []RateConfig
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, rateLineError{line: pe.Line, msg: pe.Err.Error()}
			}
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) != 3 {
			return nil, rateLineError{line: line, msg: fmt.Sprintf("want 3 fields (prefix,trunk,cost), got %d", len(rec))}
		}
		prefix, trunk, cost := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		if first && strings.EqualFold(prefix, "prefix") && strings.EqualFold(trunk, "trunk") {
			first = false
			continue
		}
		first = false
		c, err := strconv.ParseFloat(cost, 64)
		if err != nil {
			return nil, rateLineError{line: line, msg: fmt.Sprintf("cost %q is not a number", cost)}
		}
		if msg := checkRate(prefix, trunk, c); msg != "" {
			return nil, rateLineError{line: line, msg: msg}
		}
		out = append(out, RateConfig{Prefix: prefix, Trunk: trunk, Cost: c, line: line})
	}
}

// checkRate checks one rate's syntax; "" when it is fine.
func checkRate(prefix, trunk string, cost float64) string {
	p := strings.TrimPrefix(prefix, "+")
	for _, ch := range p {
		if ch < '0' || ch > '9' {
			return fmt.Sprintf("prefix %q must be digits, optionally after a leading +", prefix)
		}
	}
	switch {
	case len(prefix) > 32:
		return fmt.Sprintf("prefix %q is longer than 32 characters", prefix)
	case trunk == "":
		return "trunk is required"
	case cost < 0 || cost != cost || cost > 1e9:
		return fmt.Sprintf("cost %v must be between 0 and 1e9", cost)
	}
	return ""
}
