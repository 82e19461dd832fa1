// Package procstat reads the CPU time the load tools report: a
// process's (/proc/PID/stat) and the whole machine's (/proc/stat), in
// the kernel's USER_HZ ticks of 10 ms.
package procstat
