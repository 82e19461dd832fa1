package procstat

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcessCPU(t *testing.T) {
	// comm with a space and a parenthesis; utime 250, stime 50 ticks
	line := "4242 (sb cd) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 200"
	got, err := ParseProcessCPU(line)
	if err != nil || got != 3*time.Second {
		t.Errorf("got %v %v, want 3s", got, err)
	}
	for _, bad := range []string{"", "4242 sbcd S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 3"} {
		if _, err := ParseProcessCPU(bad); !errors.Is(err, ErrProc) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user 100, nice 10, system 50, idle 1000, iowait 7, irq 3, softirq 37, steal 40, guest 20
	stat := "cpu  100 10 50 1000 7 3 37 40 20 0\ncpu0 50 5 25 500 3 1 18 20 10 0\n"
	busy, steal, err := ParseMachineCPU(stat)
	if err != nil || busy != 2*time.Second || steal != 400*time.Millisecond {
		t.Errorf("got busy %v steal %v %v, want 2s (200 busy ticks) and 400ms", busy, steal, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 x 3 4 5 6 7 8"} {
		if _, _, err := ParseMachineCPU(bad); !errors.Is(err, ErrProc) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestProcessAndMachineCPU(t *testing.T) {
	self, err := ProcessCPU(Self)
	if err != nil || self < 0 {
		t.Fatalf("own CPU time: %v %v", self, err)
	}
	busy, steal, err := MachineCPU()
	if err != nil || busy <= 0 || steal < 0 {
		t.Fatalf("machine: busy %v steal %v %v", busy, steal, err)
	}
	if _, err := ProcessCPU(1 << 30); !errors.Is(err, ErrProc) {
		t.Errorf("a process that does not exist: %v", err)
	}
}

func TestCommCPU(t *testing.T) {
	// This test binary's own name matches itself and counts its CPU.
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 30*time.Millisecond; {
	}
	got, err := CommCPU(strings.TrimSpace(string(b)))
	if err != nil || got <= 0 {
		t.Fatalf("own command: %v %v", got, err)
	}
	if got, err := CommCPU("no-such-command-name-"); err != nil || got != 0 {
		t.Fatalf("no match: %v %v", got, err)
	}
}
