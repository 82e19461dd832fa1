//go:build linux

package main

import (
	"errors"
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

// clocks are the CPU times the tool reads at both ends of its window.
type clocks struct {
	relay   time.Duration // the relay process (this one with -direct)
	self    time.Duration // this tool
	softirq time.Duration // the ksoftirqd threads
	machine time.Duration // every CPU's busy time, tick-sampled (/proc/stat)
}

func readClocks(relayPid string) (clocks, error) {
	var c clocks
	var errs [4]error
	c.relay, errs[0] = cpuTime(relayPid)
	c.self, errs[1] = cpuTime("self")
	c.softirq, errs[2] = softirqThreadsCPU()
	c.machine, errs[3] = sysBusy()
	return c, errors.Join(errs[:]...)
}

func (c clocks) sub(o clocks) clocks {
	return clocks{relay: c.relay - o.relay, self: c.self - o.self, softirq: c.softirq - o.softirq, machine: c.machine - o.machine}
}

// report adds the CPU figures of a window of length w to res. t holds
// the packet counts; relay tells whether a relay process was measured.
func (c clocks) report(res *result, w time.Duration, t totals, snd *sender, relay bool) {
	perPkt := func(d time.Duration) float64 {
		if t.received == 0 {
			return 0
		}
		return float64(d.Nanoseconds()) / 1e3 / float64(t.received)
	}
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / w.Seconds() }
	if relay {
		res.add("sbcd_cpu_s", "%.2f", c.relay.Seconds())
		res.add("sbcd_cpu_pct", "%.1f", pct(c.relay))
		res.add("cpu_per_pkt_us", "%.2f", perPkt(c.relay))
	}
	res.add("tool_cpu_pct", "%.1f", pct(c.self))
	if snd.timeWrites && t.sent > 0 {
		res.add("send_cpu_per_pkt_us", "%.3f", float64(snd.writeCPU.Nanoseconds())/1e3/float64(t.sent))
	}
	// Softirq work a busy CPU defers to its ksoftirqd thread is not in
	// the sender's time; this shows how much there was.
	res.add("ksoftirqd_cpu_pct", "%.1f", pct(c.softirq))
	// The whole machine (all cores, softirq included): in-kernel
	// forwarding on loopback runs in the sender's context, so this sees
	// it, but tick-sampled; -send-cpu gives the exact figure.
	res.add("sys_busy_pct", "%.1f", pct(c.machine))
	res.add("sys_cpu_per_pkt_us", "%.2f", perPkt(c.machine))
}
