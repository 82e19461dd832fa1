//go:build !linux

package ksrtp

import "os"

// Supported tells whether this platform has the kernel datapath.
const Supported = false

// Datapath is not available off Linux.
type Datapath struct{}

// Slot names a stream in the kernel.
type Slot int

// Load fails off Linux.
func Load() (*Datapath, error) { return nil, ErrLoad }

// Attach fails off Linux.
func (d *Datapath) Attach(int, uint16) error { return ErrLoad }

// Close does nothing off Linux.
func (d *Datapath) Close() error { return nil }

// Add fails off Linux.
func (d *Datapath) Add(Stream) (Slot, error) { return -1, ErrLoad }

// Remove does nothing off Linux.
func (d *Datapath) Remove(Slot) Counters { return Counters{} }

// Counters are zero off Linux.
func (d *Datapath) Counters(Slot) Counters { return Counters{} }

// RunStats fails off Linux.
func (d *Datapath) RunStats() (RunStats, error) { return RunStats{}, ErrLoad }

// EnableStats fails off Linux.
func EnableStats() (*os.File, error) { return nil, ErrLoad }
