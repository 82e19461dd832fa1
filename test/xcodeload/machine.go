//go:build linux && cgo

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpu returns this process's CPU time (user and system) so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile into path and returns its stop
// function; with an empty path it does nothing.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// procCPU returns a process's utime+stime from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may
	// contain anything: utime and stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 63)
	st, err2 := strconv.ParseUint(f[12], 10, 63)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	const userHZ = 100 // USER_HZ on every Linux Go supports
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// machineCPU returns the CPU time all cores spent busy (everything but
// idle, iowait and steal in /proc/stat) so far, and the time the
// hypervisor took from them (steal), in 10 ms ticks.
func machineCPU() (busy, steal time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %.60q", line)
	}
	var ticks, stolen uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already in user. Steal is time the hypervisor
		// ran something else while this machine had work: not busy.
		switch {
		case i == 7:
			stolen = n
		case i != 3 && i != 4 && i < 7:
			ticks += n
		}
	}
	const userHZ = 100
	return time.Duration(ticks) * time.Second / userHZ, time.Duration(stolen) * time.Second / userHZ, nil
}

// watchSteal samples the machine's steal time (/proc/stat) every 100 ms
// from t0 until the returned function is called, which renders the
// steal by second of the run ("second:ms,..."), to set beside the late
// frames by second: a second in which the hypervisor ran something else
// instead of this machine shows here.
func watchSteal(t0 time.Time) func() string {
	var mu sync.Mutex
	by := map[int]time.Duration{}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		_, last, err := machineCPU()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for err == nil {
			select {
			case <-done:
				return
			case now := <-tick.C:
				var st time.Duration
				if _, st, err = machineCPU(); err == nil && st > last {
					mu.Lock()
					by[int(now.Sub(t0)/time.Second)] += st - last
					mu.Unlock()
					last = st
				}
			}
		}
	}()
	return func() string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		secs := make([]int, 0, len(by))
		for s := range by {
			secs = append(secs, s)
		}
		slices.Sort(secs)
		out := make([]string, len(secs))
		for i, s := range secs {
			out[i] = fmt.Sprintf("%d:%d", s, by[s].Milliseconds())
		}
		return strings.Join(out, ",")
	}
}
