// Command load drives sbcd with sipp and reports what it cost: calls per
// second (mode cps) or memory per established call (mode hold).
//
//	go run ./test/load -mode cps -rate 50 -duration 30s
//	go run ./test/load -mode hold -calls 500
//
// It starts sbcd with the benchmark configuration (test/sipp/configs/bench.yaml
// on its own loopback network), a UAS sipp as the gateway and a UAC sipp as
// the callers, then prints one "key=value" line per figure: successful and
// failed calls from sipp's statistics, sbcd's CPU time (utime+stime from
// /proc/<pid>/stat) and its resident memory (VmRSS/VmHWM).
package main
