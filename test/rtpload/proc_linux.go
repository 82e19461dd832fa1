//go:build linux

package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/openborder/openborder/test/procstat"
)

// cpuTime returns utime+stime of a process ("self" for this one).
func cpuTime(pid string) (time.Duration, error) {
	n := procstat.Self
	if pid != "self" {
		var err error
		if n, err = strconv.Atoi(pid); err != nil {
			return 0, fmt.Errorf("%w: pid %q", procstat.ErrProc, pid)
		}
	}
	return procstat.ProcessCPU(n)
}

// softirqThreadsCPU returns the CPU time of the ksoftirqd threads so far.
func softirqThreadsCPU() (time.Duration, error) { return procstat.CommCPU("ksoftirqd/") }
