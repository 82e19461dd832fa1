//go:build !linux

package rtpengine

import (
	"log/slog"
	"net/netip"
)

// relay and worker are empty where the epoll relay does not exist; the
// engine then uses the goroutine relay.
type relay struct{}

type worker struct{}

func newRelay(int, *slog.Logger) (*relay, error)               { return nil, errNoEpollRelay }
func (rl *relay) size() int                                    { return 0 }
func (rl *relay) close()                                       {}
func (rl *relay) attach(*mediaSock, *reader) error             { return errNoEpollRelay }
func (w *worker) detach(*mediaSock)                            {}
func openRaw(netip.AddrPort, int) (*mediaSock, error)          { return nil, errNoEpollRelay }
func rawWrite(*mediaSock, []byte, netip.AddrPort) (int, error) { return 0, errNoEpollRelay }
func rawClose(int) error                                       { return nil }

const rawRelaySupported = false

// niceThread is not supported here: workers keep the process's priority.
func niceThread(int) error { return errNoEpollRelay }
