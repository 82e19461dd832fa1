package main

import (
	"strconv"
	"strings"
)

// parseMetrics returns the unlabelled samples of a Prometheus text
// exposition whose names start with prefix.
func parseMetrics(s, prefix string) map[string]float64 {
	out := make(map[string]float64)
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.ContainsRune(name, '{') {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out
}
