package e2e

import (
	"fmt"
	"strconv"
	"strings"
)

// Stats is one row of a sipp -trace_stat CSV file, keyed by column name.
type Stats map[string]string

// ParseStats parses a sipp statistics file (";"-separated, header row
// first) and returns its rows; the last row is the final state.
func ParseStats(data []byte) ([]Stats, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%w: %d lines", ErrBadStats, len(lines))
	}
	cols := strings.Split(strings.TrimSuffix(strings.TrimSpace(lines[0]), ";"), ";")
	var out []Stats
	for n, l := range lines[1:] {
		vals := strings.Split(strings.TrimSuffix(strings.TrimSpace(l), ";"), ";")
		if len(vals) != len(cols) {
			return nil, fmt.Errorf("%w: row %d has %d fields, header %d", ErrBadStats, n+1, len(vals), len(cols))
		}
		row := make(Stats, len(cols))
		for i, c := range cols {
			row[c] = vals[i]
		}
		out = append(out, row)
	}
	return out, nil
}

// Int returns a numeric column, e.g. "SuccessfulCall(C)".
func (s Stats) Int(col string) (int64, error) {
	v, ok := s[col]
	if !ok {
		return 0, fmt.Errorf("%w: no column %q", ErrBadStats, col)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: column %q: %w", ErrBadStats, col, err)
	}
	return n, nil
}
