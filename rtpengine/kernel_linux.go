//go:build linux

package rtpengine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/rtpengine/kfwd"
	"github.com/openborder/openborder/rtpengine/ksrtp"
)

// kernel is in-kernel forwarding: one ctnetlink socket and the counters
// of what it did. Its manager goroutine (loop) offloads eligible
// streams, reads their counters and takes back the ones that stopped
// being eligible; control operations take a call's streams back first
// (yield) and wake the manager.
type kernel struct {
	e    *Engine
	conn *kfwd.Conn
	kick chan *call

	offloaded                          atomic.Int64
	packets, bytes, offloads, failures atomic.Uint64
	// deferred counts hand-overs put off because a packet was waiting
	// in a socket (tests and debugging).
	deferred atomic.Uint64
	// v6 is set when the start-up test forwarded IPv6 too (NAT hooks for
	// IPv6 registered); IPv6 streams stay in user space otherwise.
	v6 bool
	// sr is the in-kernel SRTP program (nil: SRTP streams stay in user
	// space, srtpState says why); srtpOffloaded and takenBack count for
	// KernelMetrics.
	sr        *ksrtp.Datapath
	srtpState string
	// routes is a netlink handle opened in the engine's network namespace
	// at start, for the routes of SRTP streams' peers (the manager
	// goroutine may run on any thread).
	routes        *netlink.Handle
	srtpOffloaded atomic.Int64
	takenBack     atomic.Uint64
}

// queued reports whether datagrams wait in s's receive queue.
func queued(s *mediaSock) bool {
	n := 0
	ctl := func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			n = v
		}
	}
	switch {
	case s == nil:
	case s.conn != nil:
		if rc, err := s.conn.SyscallConn(); err == nil {
			_ = rc.Control(ctl)
		}
	case s.fd >= 0:
		s.mu.RLock()
		if !s.closed {
			ctl(uintptr(s.fd))
		}
		s.mu.RUnlock()
	}
	return n > 0
}

const acctSysctl = "/proc/sys/net/netfilter/nf_conntrack_acct"

// newKernel checks that the kernel forwards with conntrack NAT in this
// network namespace (by forwarding a datagram between four loopback
// sockets) and removes entries a previous sbcd left pointing into the
// engine's port ranges.
func newKernel(e *Engine) (*kernel, error) {
	conn, err := kfwd.Open()
	if err != nil {
		return nil, err
	}
	k := &kernel{e: e, conn: conn, kick: make(chan *call, kickQueue)}
	if err := k.selfTest("udp4", net.IPv4(127, 0, 0, 1)); err != nil {
		_ = conn.Close()
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("%w (sbcd needs CAP_NET_ADMIN)", err)
		}
		return nil, err
	}
	if err := k.selfTest("udp6", net.IPv6loopback); err != nil {
		e.log.Warn("kernel forwarding: IPv6 streams stay in user space", "err", err)
	} else {
		k.v6 = true
	}
	if b, err := os.ReadFile(acctSysctl); err != nil || strings.TrimSpace(string(b)) != "1" {
		if err := os.WriteFile(acctSysctl, []byte("1"), 0o644); err != nil {
			e.log.Warn("kernel forwarding: conntrack accounting is off and cannot be turned on; offloaded streams count no packets",
				"sysctl", "net.netfilter.nf_conntrack_acct", "err", err)
		} else {
			e.log.Info("kernel forwarding: turned conntrack accounting on", "sysctl", "net.netfilter.nf_conntrack_acct")
		}
	}
	if n := k.cleanStale(); n > 0 {
		e.log.Info("kernel forwarding: removed stale entries", "entries", n)
	}
	k.startSRTP()
	return k, nil
}

// startSRTP loads the in-kernel SRTP program and attaches it to the
// loopback interface and to every interface holding a media address
// (all of them when a media interface listens on the wildcard). Without
// it, SRTP streams stay in user space; plain RTP is forwarded anyway.
func (k *kernel) startSRTP() {
	d, err := ksrtp.Load()
	if err != nil {
		k.srtpState = "unavailable: " + err.Error()
		k.e.log.Warn("kernel forwarding: SRTP streams stay in user space", "err", err)
		return
	}
	prio := srtpFilterPrio(k.e.cfg.Interfaces)
	ifs, err := k.mediaInterfaces()
	if err == nil {
		for _, ifi := range ifs {
			if err = d.Attach(ifi.Index, prio); err != nil {
				err = fmt.Errorf("interface %s: %w", ifi.Name, err)
				break
			}
		}
	}
	if err != nil {
		_ = d.Close()
		k.srtpState = "unavailable: " + err.Error()
		k.e.log.Warn("kernel forwarding: SRTP streams stay in user space", "err", err)
		return
	}
	routes, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		_ = d.Close()
		k.srtpState = "unavailable: netlink: " + err.Error()
		k.e.log.Warn("kernel forwarding: SRTP streams stay in user space", "err", err)
		return
	}
	k.sr, k.srtpState, k.routes = d, "on", routes
	names := make([]string, 0, len(ifs))
	for _, ifi := range ifs {
		names = append(names, ifi.Name)
	}
	k.e.log.Info("kernel forwarding: SRTP <-> RTP streams are protected in the kernel", "interfaces", strings.Join(names, ","), "tc_priority", prio)
}

// srtpRunStats are the SRTP program's run count and time (0, 0 without
// the program or without kernel.bpf_stats_enabled).
func (k *kernel) srtpRunStats() (runs, ns uint64) {
	if k.sr == nil {
		return 0, 0
	}
	rs, err := k.sr.RunStats()
	if err != nil {
		return 0, 0
	}
	return rs.Runs, rs.RunNs
}

// mediaInterfaces are the interfaces media arrives on: loopback and the
// ones holding a media interface's address (all that are up for a
// wildcard address).
func (k *kernel) mediaInterfaces() ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("interfaces: %w", err)
	}
	wild := false
	want := map[netip.Addr]bool{}
	for _, ic := range k.e.cfg.Interfaces {
		if ic.Addr.IsUnspecified() || !ic.Addr.IsValid() {
			wild = true
		}
		want[ic.Addr.Unmap()] = true
	}
	var out []net.Interface
	for _, ifi := range all {
		use := ifi.Flags&net.FlagLoopback != 0 || (wild && ifi.Flags&net.FlagUp != 0)
		if !use {
			addrs, _ := ifi.Addrs()
			for _, a := range addrs {
				if pfx, err := netip.ParsePrefix(a.String()); err == nil && want[pfx.Addr().Unmap()] {
					use = true
				}
			}
		}
		if use {
			out = append(out, ifi)
		}
	}
	return out, nil
}

// selfTest forwards one datagram A -> X to B (from Y) through an entry
// like the ones streams get, on the loopback address lo.
func (k *kernel) selfTest(network string, lo net.IP) error {
	var socks [4]*net.UDPConn
	for i := range socks {
		c, err := net.ListenUDP(network, &net.UDPAddr{IP: lo})
		if err != nil {
			return fmt.Errorf("self-test socket: %w", err)
		}
		defer c.Close()
		socks[i] = c
	}
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	a, x, y, b := socks[0], socks[1], socks[2], socks[3]
	f := kfwd.Flow{Orig: kfwd.Tuple{Src: addr(a), Dst: addr(x)}, DNAT: addr(b), SNAT: addr(y), Timeout: 5}
	if err := k.conn.Forward(f); err != nil {
		return fmt.Errorf("conntrack entry: %w", err)
	}
	defer func() { _ = k.conn.Delete(f.Orig, false) }()
	if _, err := a.WriteToUDPAddrPort([]byte("openborder"), addr(x)); err != nil {
		return fmt.Errorf("self-test send: %w", err)
	}
	_ = b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 32)
	n, src, err := b.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "openborder" || src != addr(y) {
		tool := "iptables"
		if network == "udp6" {
			tool = "ip6tables"
		}
		return fmt.Errorf("a conntrack entry with NAT did not forward a datagram over %s: are NAT hooks registered "+
			"in this network namespace (e.g. %s -t nat -A OUTPUT -p udp --dport 1 -j ACCEPT)?", lo, tool)
	}
	return nil
}

// cleanStale deletes NAT entries whose original destination is one of
// the engine's media ports.
func (k *kernel) cleanStale() int {
	n := 0
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		entries, err := k.conn.List(fam)
		if err != nil {
			continue
		}
		for _, en := range entries {
			if en.Status&kfwd.StatusDstNAT == 0 || !k.e.ownsPort(en.Orig.Dst) {
				continue
			}
			if k.conn.Delete(en.Orig, false) == nil {
				n++
			}
		}
	}
	return n
}

// ownsPort reports whether a is inside one of the engine's port pools.
func (e *Engine) ownsPort(a netip.AddrPort) bool {
	for _, ic := range e.cfg.Interfaces {
		if int(a.Port()) < ic.PortMin || int(a.Port()) > ic.PortMax {
			continue
		}
		if ic.Addr.IsUnspecified() || ic.Addr == a.Addr().Unmap() {
			return true
		}
	}
	return false
}

func (k *kernel) close() {
	if k.sr != nil {
		if err := k.sr.Close(); err != nil {
			k.e.log.Warn("kernel forwarding: SRTP program not detached", "err", err)
		}
		k.routes.Close()
	}
	_ = k.conn.Close()
}

// kickQueue bounds the calls waiting for the manager to look at them;
// beyond it the periodic round catches up.
const kickQueue = 1024

// wake asks the manager to look at c again (never blocks).
func (k *kernel) wake(c *call) {
	select {
	case k.kick <- c:
	default:
	}
}

// loop is the manager goroutine; it ends with the engine.
func (k *kernel) loop() {
	defer k.e.wg.Done()
	t := time.NewTicker(kernelPoll)
	defer t.Stop()
	for {
		select {
		case <-k.e.stop:
			return
		case <-t.C:
			k.round()
		case c := <-k.kick:
			if c != nil {
				k.reconcileCall(c, false, monoNow())
			}
		}
	}
}

// round reads the kernel's counters and reconciles every call. Each
// offloaded stream's entry is read by itself (one ctnetlink get): a dump
// of the conntrack table walks every bucket of it and cost sbcd about 5%
// of a core every 500 ms at 400 offloaded calls, the gets well under 1%.
func (k *kernel) round() {
	k.e.mu.Lock()
	calls := make([]*call, 0, len(k.e.calls))
	for _, c := range k.e.calls {
		calls = append(calls, c)
	}
	k.e.mu.Unlock()
	for _, c := range calls {
		k.reconcileCall(c, true, monoNow())
	}
}

// reconcileCall brings the kernel state of c's streams in line; with
// poll, it first adds what the kernel forwarded since the last poll.
func (k *kernel) reconcileCall(c *call, poll bool, now int64) {
	defer func() {
		if v := recover(); v != nil {
			k.e.log.Error("kernel forwarding manager panicked", "call_id", c.id, "panic", v)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kernelPairs(func(ea, eb *endpoint) { k.reconcile(c, ea, eb, poll, now) })
}

// reconcile brings one stream's kernel state in line. Called with c.mu.
func (k *kernel) reconcile(c *call, ea, eb *endpoint, poll bool, now int64) {
	f, reason := kernelEligible(c, ea, eb)
	if reason == "" && !k.v6 && !f.aLocal.Addr().Unmap().Is4() {
		reason = "ipv6 not forwarded here"
	}
	if reason == "" && f.srtp != 0 && k.sr == nil {
		reason = "srtp in the kernel " + k.srtpState
	}
	o := ea.kern
	if o != nil && o.failed {
		if reason == "" && o.flow == f {
			return // refused for this flow: not tried again
		}
		ea.kern, eb.kern, o = nil, nil, nil
	}
	if o != nil && poll && o.flow.srtp == 0 {
		en, err := k.conn.Get(o.flow.kfwdFlow().Orig)
		switch {
		case err == nil:
			pk, by := o.account(en, now)
			k.packets.Add(pk)
			k.bytes.Add(by)
		case errors.Is(err, unix.ENOENT):
			// Expired in the kernel (no packets for its timeout): the
			// stream is user space's again.
			k.forget(o)
			o = nil
		}
	}
	if o != nil && o.flow.srtp != 0 && k.srtpCheck(o, now) {
		// The kernel met packets of the stream it does not handle (a new
		// SSRC, RTCP, too large): user space takes the stream back and
		// it is not offloaded again until its flow changes.
		k.remove(o)
		k.takenBack.Add(1)
		notAgain(ea, eb, o.flow)
		return
	}
	if o != nil && (reason != "" || o.flow != f || o.a != ea) {
		k.remove(o)
		o = nil
	}
	if o == nil && reason == "" {
		k.install(c, ea, eb, f)
	}
}

// install hands a stream to the kernel.
func (k *kernel) install(c *call, ea, eb *endpoint, f kernelFlow) {
	if ea.kern != nil || eb.kern != nil {
		return
	}
	if !handOverNow(queued(ea.pp.rtp) || queued(eb.pp.rtp), &ea.kernDefer) {
		// A packet waits for the user-space relay: handed over now, it
		// would have to be dropped (see reader.handle). Next round.
		k.deferred.Add(1)
		return
	}
	o := &offload{a: ea, b: eb, flow: f}
	var streams [2]ksrtp.Stream
	if f.srtp != 0 {
		// The program forwards SRTP flows itself, to where the
		// kernel's routes say: two slots, no conntrack entry.
		sec, plain := o.sides()
		var err error
		lookup := func(a netip.Addr) (route, error) { return routeTo(k.routes, a) }
		if streams, err = slotStreams(f, sec, plain, lookup); err != nil {
			k.e.log.Info("srtp stream stays in user space", "call_id", c.id, "flow", f.String(), "reason", err)
			notAgain(ea, eb, f)
			return
		}
	}
	// From here on the user-space relay drops this stream's packets
	// instead of sending them: one sent from our ports after a conntrack
	// entry exists would clash with it and leave with another source
	// port, which a symmetric-RTP peer would latch to.
	ea.kernOn.Store(true)
	eb.kernOn.Store(true)
	var err error
	if f.srtp != 0 {
		err = k.addSlots(o, streams)
	} else {
		err = k.conn.Forward(f.kfwdFlow())
	}
	if err != nil {
		ea.kernOn.Store(false)
		eb.kernOn.Store(false)
		k.failures.Add(1)
		k.e.log.Warn("kernel forwarding refused; the stream stays in user space", "call_id", c.id, "flow", f.String(), "err", err)
		// Not again for this flow: a new latch or SDP makes a new one.
		notAgain(ea, eb, f)
		return
	}
	ea.kern, eb.kern = o, o
	k.offloaded.Add(1)
	if f.srtp != 0 {
		k.srtpOffloaded.Add(1)
	}
	k.offloads.Add(1)
	k.e.log.Debug("stream forwarded in the kernel", "call_id", c.id, "flow", f.String())
}

// notAgain marks flow f of the stream ea-eb as not to be offloaded again
// (until the flow changes). Called with the call's lock.
func notAgain(ea, eb *endpoint, f kernelFlow) {
	ea.kern = &offload{a: ea, b: eb, flow: f, failed: true}
	eb.kern = ea.kern
}

// remove takes a stream back from the kernel, counting what the kernel
// forwarded since the last poll. Called with the call's lock.
func (k *kernel) remove(o *offload) {
	if o.failed {
		o.a.kern, o.b.kern = nil, nil
		return
	}
	if o.flow.srtp == 0 {
		orig := o.flow.kfwdFlow().Orig
		if en, err := k.conn.Get(orig); err == nil {
			pk, by := o.account(en, monoNow())
			k.packets.Add(pk)
			k.bytes.Add(by)
		}
		if err := k.conn.Delete(orig, false); err != nil && !errors.Is(err, unix.ENOENT) {
			k.failures.Add(1)
			k.e.log.Warn("kernel forwarding entry not removed", "flow", o.flow.String(), "err", err)
		}
	}
	// The slots count what they forwarded up to their removal.
	k.removeSlots(o)
	k.forget(o)
}

// forget returns the stream to user space without touching the kernel.
func (k *kernel) forget(o *offload) {
	if o.slots != [2]int{} {
		k.removeSlots(o) // an entry that expired
	}
	if o.flow.srtp != 0 {
		k.srtpOffloaded.Add(-1)
	}
	o.a.kernOn.Store(false)
	o.b.kernOn.Store(false)
	o.a.kern, o.b.kern = nil, nil
	o.a.seqGen.Add(1)
	o.b.seqGen.Add(1)
	k.offloaded.Add(-1)
}

// yield takes every stream of c back from the kernel before a control
// operation changes it, and wakes the manager to look again after.
// Called with c.mu held.
func (k *kernel) yield(c *call) {
	c.kernelPairs(func(ea, eb *endpoint) {
		if o := ea.kern; o != nil {
			k.remove(o)
		}
	})
	k.wake(c)
}

// drop takes ep's stream back from the kernel (ep is being released).
func (k *kernel) drop(ep *endpoint) {
	if o := ep.kern; o != nil {
		k.remove(o)
	}
}

const kernelSupported = true
