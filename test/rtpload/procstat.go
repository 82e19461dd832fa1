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
