package main

import (
	"log/slog"
	"syscall"

	"github.com/openborder/openborder/policy"
)

// raiseFileLimit lifts RLIMIT_NOFILE to what the policy's media port ranges
// can use (one socket per port) plus room for signalling. Go already raises
// the soft limit to the hard one; as root sbcd raises the hard limit too.
// When the limit stays short, sbcd says how many calls it allows.
func raiseFileLimit(pol *policy.Set, log *slog.Logger) {
	need := uint64(4096)
	for _, r := range pol.Realms() {
		need += uint64(r.Media.PortMax - r.Media.PortMin + 1)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur >= need {
		return
	}
	want := syscall.Rlimit{Cur: need, Max: max(lim.Max, need)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < need {
		log.Warn("open-file limit is below what the media port ranges need; calls beyond it get 503",
			"limit", lim.Cur, "needed", need, "calls_at_most", (lim.Cur-1024)/4)
	}
}
