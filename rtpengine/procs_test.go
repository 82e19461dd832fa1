package rtpengine

import (
	"os"
	"runtime"
	"testing"
)

func TestSpareProcs(t *testing.T) {
	if got := spareProcs("", 2); got != 3 {
		t.Errorf("no GOMAXPROCS in the environment, 2 processors: %d, want 3", got)
	}
	if got := spareProcs("2", 2); got != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment: %d, want 2 (the operator's choice)", got)
	}
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	want := spareProcs(os.Getenv("GOMAXPROCS"), before)
	if got := SpareProc(); got != want {
		t.Errorf("SpareProc: %d processors, want %d", got, want)
	}
	if got := SpareProc(); got != want {
		t.Errorf("second SpareProc: %d processors, want %d (raised once per process)", got, want)
	}
}
