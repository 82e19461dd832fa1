package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/test/procstat"
)

var errProc = procstat.ErrProc

// memory returns VmRSS and VmHWM (peak RSS) in KiB.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errProc, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("%w: no VmRSS", errProc)
	}
	return rss, hwm, nil
}

// openFiles counts a process's open file descriptors.
func openFiles(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errProc, err)
	}
	return len(ents), nil
}

// fdPeak samples a process's open files every period until stop closes,
// then sends the highest count seen.
func fdPeak(pid int, period time.Duration, stop <-chan struct{}, out chan<- int) {
	peak := 0
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if n, err := openFiles(pid); err == nil {
			peak = max(peak, n)
		}
		select {
		case <-stop:
			out <- peak
			return
		case <-t.C:
		}
	}
}
