package rtpengine

import (
	"os"
	"runtime"
	"sync"
)

// SpareProc gives the Go runtime one processor more than it chose for
// this process (the cores it may use), unless the GOMAXPROCS environment
// variable sets the number, and returns the number in use. Call it
// before New, from the process that runs the engine; it raises the
// number once per process.
//
// Why: the epoll relay's threads and the transcoding workers spend much
// of their time in system calls and cgo codec calls, during which they
// hold a processor until the runtime takes it back; one more processor
// than cores lets a goroutine woken meanwhile (a worker with a packet, a
// relay thread back from epoll) run at once while the kernel shares the
// cores. Measured with 250 transcoded calls on 2 cores: no frame overrun
// in 12 of 14 runs with 3 processors, against 12 of 17 (8 workers) and 10
// of 13 (16 workers) with 2 (docs/benchmarks.md, "Transcoding").
func SpareProc() int {
	spareOnce.Do(func() {
		runtime.GOMAXPROCS(spareProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)))
	})
	return runtime.GOMAXPROCS(0)
}

// spareProcs is the processor count SpareProc sets: cur+1, or cur when
// the environment (env, GOMAXPROCS) chose it.
func spareProcs(env string, cur int) int {
	if env != "" {
		return cur
	}
	return cur + 1
}

var spareOnce sync.Once
