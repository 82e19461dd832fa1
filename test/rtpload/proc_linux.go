//go:build linux

package main

import (
	"fmt"
	"os"
	"time"
)

// cpuTime returns utime+stime of a process ("self" for this one).
func cpuTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errProc, err)
	}
	return parseStatCPU(string(b))
}
