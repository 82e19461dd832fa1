package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ (CLK_TCK), 100 on every Linux architecture Go supports.
const clockTick = 100

// ErrProc is wrapped by every error of this package.
var ErrProc = errors.New("cannot read /proc")

// Self, as a pid, names the calling process.
const Self = 0

// ProcessCPU returns the user and system CPU time of process pid (Self
// for this one) so far.
func ProcessCPU(pid int) (time.Duration, error) {
	name := "self"
	if pid != Self {
		name = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + name + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return ParseProcessCPU(string(b))
}

// ParseProcessCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name in parentheses may hold spaces
// and parentheses, so fields are counted after its last ')'.
func ParseProcessCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without command name", ErrProc)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", ErrProc, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 63)
	st, err2 := strconv.ParseUint(f[12], 10, 63)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// MachineCPU returns, for every CPU together, the time spent busy (user,
// nice, system, irq, softirq: not idle, iowait or steal) and the time the
// hypervisor took while the machine had work (steal), so far.
func MachineCPU() (busy, steal time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	return ParseMachineCPU(string(b))
}

// ParseMachineCPU reads busy and steal time from the aggregate "cpu"
// line of /proc/stat (guest time is inside user already).
func ParseMachineCPU(s string) (busy, steal time.Duration, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("%w: /proc/stat does not start with the cpu line", ErrProc)
	}
	var ticks [9]uint64
	for i := 1; i <= 8; i++ { // user nice system idle iowait irq softirq steal
		if ticks[i], err = strconv.ParseUint(f[i], 10, 63); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrProc, err)
		}
	}
	b := ticks[1] + ticks[2] + ticks[3] + ticks[6] + ticks[7]
	return time.Duration(b) * time.Second / clockTick, time.Duration(ticks[8]) * time.Second / clockTick, nil
}

// CommCPU returns the summed user and system CPU time of every process
// whose command name starts with prefix (for example "ksoftirqd/", the
// kernel threads that take over softirq work a busy CPU defers), so far.
// Processes that end while it reads are skipped.
func CommCPU(prefix string) (time.Duration, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	var sum time.Duration
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || !strings.HasPrefix(s[open+1:end], prefix) {
			continue
		}
		c, err := ParseProcessCPU(s)
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}
