//go:build linux

package ksrtp

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Supported tells whether this platform has the kernel datapath.
const Supported = true

// reuseAfter keeps a freed slot unused for a while, so that a program
// run that read the old slot has long finished before it is rewritten.
const reuseAfter = time.Second

// filterName and filterHandle identify sbcd's tc filter; its priority
// is the caller's (Attach).
const (
	filterName   = "openborder-srtp"
	filterHandle = 1
)

// Datapath is the loaded program and its slot table. Its methods are
// safe for concurrent use; packets never wait for them.
type Datapath struct {
	p *program

	mu       sync.Mutex
	free     []int // never used
	freed    []freedSlot
	attached []int // ifindexes
	prio     uint16
	// nl is a netlink handle opened in the network namespace of the
	// first Attach, so that Close detaches there from any thread.
	nl *netlink.Handle
	// ports are the slots by destination port (the kernel's port_slot).
	ports map[uint16]int
}

type freedSlot struct {
	slot int
	at   time.Time
}

// Slot names a stream in the kernel.
type Slot int

// Load loads the program. It needs CAP_BPF (or root).
func Load() (*Datapath, error) {
	p, err := loadProgram()
	if err != nil {
		return nil, err
	}
	d := &Datapath{p: p, ports: map[uint16]int{}}
	for i := maxStreams - 1; i >= 0; i-- {
		d.free = append(d.free, i)
	}
	return d, nil
}

// Attach runs the program on packets arriving at the interface (tc
// ingress; a clsact qdisc is added when missing) as the filter of
// priority prio (1-65535), replacing a filter left at that priority (by
// an earlier run that did not stop cleanly). Each sbcd on a host needs
// its own priority: datagrams that are not its own go on to the next
// filter. All interfaces of one Datapath share the first priority
// given. Only Ethernet-framed interfaces and loopback carry a frame
// layout the program knows.
func (d *Datapath) Attach(ifindex int, prio uint16) error {
	if prio == 0 {
		return fmt.Errorf("%w: tc filter priority 0", ErrUnsupported)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nl == nil {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("ksrtp: netlink: %w", err)
		}
		d.nl = h
	}
	link, err := d.nl.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("ksrtp: interface %d: %w", ifindex, err)
	}
	if t := link.Attrs().EncapType; t != "ether" && t != "loopback" {
		return fmt.Errorf("%w: interface %s has %s framing", ErrUnsupported, link.Attrs().Name, t)
	}
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}
	if err := d.nl.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("ksrtp: clsact qdisc on %s: %w", link.Attrs().Name, err)
	}
	if d.prio == 0 {
		d.prio = prio
	}
	flt := d.filter(ifindex)
	if err := d.nl.FilterReplace(flt); err != nil {
		return fmt.Errorf("ksrtp: tc filter on %s: %w", link.Attrs().Name, err)
	}
	d.attached = append(d.attached, ifindex)
	return nil
}

func (d *Datapath) filter(ifindex int) *netlink.BpfFilter {
	return &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: netlink.HANDLE_MIN_INGRESS,
			Handle: filterHandle, Protocol: unix.ETH_P_IP, Priority: d.prio},
		Fd: d.p.fd, Name: filterName, DirectAction: true,
	}
}

// Close detaches the program and releases it; streams still in slots
// stop being handled (their packets pass untouched).
func (d *Datapath) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	for _, ifindex := range d.attached {
		f := d.filter(ifindex)
		del := &netlink.GenericFilter{FilterAttrs: f.FilterAttrs, FilterType: "bpf"}
		if err := d.nl.FilterDel(del); err != nil && !errors.Is(err, unix.ENOENT) && first == nil {
			first = fmt.Errorf("ksrtp: tc filter removal: %w", err)
		}
	}
	d.attached = nil
	if d.nl != nil {
		d.nl.Close()
		d.nl = nil
	}
	d.p.close()
	return first
}

func (d *Datapath) slotMem(slot int) []byte {
	off := d.p.streams + slot*streamSize
	return d.p.mem[off : off+streamSize]
}

func (d *Datapath) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&d.p.mem[off])) }

// Add puts a stream into a free slot and activates it.
func (d *Datapath) Add(s Stream) (Slot, error) {
	var img [streamSize]byte
	if err := s.encode(img[:]); err != nil {
		return -1, err
	}
	port := s.Local.Port()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p.mem == nil {
		return -1, ErrLoad
	}
	if _, busy := d.ports[port]; busy {
		return -1, fmt.Errorf("%w: %d", ErrPortBusy, port)
	}
	slot := -1
	if n := len(d.free); n > 0 {
		slot, d.free = d.free[n-1], d.free[:n-1]
	} else if len(d.freed) > 0 && time.Since(d.freed[0].at) >= reuseAfter {
		slot, d.freed = d.freed[0].slot, d.freed[1:]
	}
	if slot < 0 {
		return -1, ErrFull
	}
	m := d.slotMem(slot)
	copy(m, img[:]) // active is 0 in the image
	d.ports[port] = slot
	d.setPort(d.p.portSlot, port, slot+1)
	atomic.StoreUint32(d.u32(d.p.streams+slot*streamSize+offActive), 1)
	return Slot(slot), nil
}

// setPort sets the u16 entry for port in the table at off, writing the
// aligned u32 that holds it so the kernel never sees a torn value.
func (d *Datapath) setPort(off int, port uint16, v int) {
	p := (*uint32)(unsafe.Pointer(&d.p.mem[off+int(port&^1)*2]))
	sh := 16 * uint(port&1)
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, old&^(0xffff<<sh)|uint32(v)<<sh) {
			return
		}
	}
}

// Remove deactivates a slot and returns its final counters. The slot
// is reused only after reuseAfter.
func (d *Datapath) Remove(s Slot) Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p.mem == nil || s < 0 || int(s) >= maxStreams {
		return Counters{}
	}
	slot := int(s)
	atomic.StoreUint32(d.u32(d.p.streams+slot*streamSize+offActive), 0)
	m := d.slotMem(slot)
	port := uint16(m[offDport])<<8 | uint16(m[offDport+1])
	if d.ports[port] == slot {
		delete(d.ports, port)
		d.setPort(d.p.portSlot, port, 0)
	}
	c := d.counters(slot)
	d.freed = append(d.freed, freedSlot{slot: slot, at: time.Now()})
	return c
}

// RunStats reads the program's run statistics.
func (d *Datapath) RunStats() (RunStats, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p.fd < 0 {
		return RunStats{}, ErrLoad
	}
	return d.p.progInfo()
}

// Counters reads a slot's counters.
func (d *Datapath) Counters(s Slot) Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p.mem == nil || s < 0 || int(s) >= maxStreams {
		return Counters{}
	}
	return d.counters(int(s))
}

func (d *Datapath) counters(slot int) Counters {
	base := d.p.streams + slot*streamSize
	return decodeCounters(func(off int) uint64 { return atomic.LoadUint64((*uint64)(unsafe.Pointer(&d.p.mem[base+off]))) })
}
