//go:build !linux

package rtpengine

import (
	"errors"
	"net/netip"
	"sync/atomic"
)

// kernel is in-kernel forwarding, which only Linux has.
type kernel struct {
	kick                               chan *call
	offloaded                          atomic.Int64
	packets, bytes, offloads, failures atomic.Uint64
	srtpState                          string
	srtpOffloaded                      atomic.Int64
	takenBack                          atomic.Uint64
}

func newKernel(*Engine) (*kernel, error) {
	return nil, errors.New("in-kernel forwarding needs Linux (conntrack)")
}

func (e *Engine) ownsPort(netip.AddrPort) bool   { return false }
func (k *kernel) close()                         {}
func (k *kernel) loop()                          {}
func (k *kernel) yield(*call)                    {}
func (k *kernel) drop(*endpoint)                 {}
func (k *kernel) srtpRunStats() (uint64, uint64) { return 0, 0 }

const kernelSupported = false
