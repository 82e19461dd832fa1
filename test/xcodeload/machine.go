//go:build linux && cgo

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openborder/openborder/test/procstat"
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
		_, last, err := procstat.MachineCPU()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for err == nil {
			select {
			case <-done:
				return
			case now := <-tick.C:
				var st time.Duration
				if _, st, err = procstat.MachineCPU(); err == nil && st > last {
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
