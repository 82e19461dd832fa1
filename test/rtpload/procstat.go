package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ (CLK_TCK), 100 on every Linux architecture Go supports.
const clockTick = 100

var errProc = errors.New("cannot read /proc")

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name in parentheses may hold spaces
// and parentheses, so fields are counted after its last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without command name", errProc)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", errProc, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 63)
	st, err2 := strconv.ParseUint(f[12], 10, 63)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: %w", errProc, err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// parseProcStat reads the busy time of the aggregate "cpu" line of
// /proc/stat: user, nice, system, irq, softirq and steal jiffies (guest
// time is inside user already; idle and iowait are not busy).
func parseProcStat(s string) (time.Duration, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: /proc/stat does not start with the cpu line", errProc)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseUint(f[i], 10, 63)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errProc, err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTick, nil
}

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
