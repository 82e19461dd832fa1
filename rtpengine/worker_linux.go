//go:build linux

package rtpengine

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll relay: media sockets are raw non-blocking descriptors that Go's
// runtime poller never sees. A fixed set of workers, each on its own locked
// OS thread, blocks in epoll_wait on its own epoll set, drains every ready
// socket with one recvmmsg into the worker's receive ring and forwards with
// sendmmsg (plain packets, batched per destination socket) or sendto
// (packets that went through SRTP). A packet never wakes another goroutine
// and no lock is shared between streams: a socket's reader (latch,
// sequence state) is reached from the epoll event's descriptor through a
// lock-free table, and the generation stored beside the descriptor in the
// event tells a socket from a later one that reused its number.
//
// Releasing a socket takes it out of the epoll set and its table slot, then
// waits until no worker is inside a batch it started before (each worker's
// busy counter is odd while it handles a batch), and only then closes the
// descriptor, so a worker never reads from or sends on a reused number.

const (
	// relayBatch is the number of datagrams one recvmmsg may return and
	// the size of a worker's receive ring.
	relayBatch = 32
	// relayEvents is the number of ready sockets one epoll_wait may return.
	relayEvents = 128
	// fdChunkBits/fdChunks size the descriptor table: 4096 chunks of 256
	// slots cover descriptors below 1,048,576; chunks are made on demand.
	fdChunkBits = 8
	fdChunks    = 4096
)

// mmsghdr is struct mmsghdr of recvmmsg(2)/sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

type fdChunk [1 << fdChunkBits]atomic.Pointer[mediaSock]

// relay is the set of workers and the descriptor table they share.
type relay struct {
	log     *slog.Logger
	workers []*worker
	chunks  [fdChunks]atomic.Pointer[fdChunk]
	mu      sync.Mutex // serialises making chunks
	gen     atomic.Uint32
	next    atomic.Uint32
	wg      sync.WaitGroup
	once    sync.Once
}

// worker owns one epoll set, one OS thread and the buffers of one batch.
type worker struct {
	rl   *relay
	epfd int
	evfd int // eventfd that stops the worker
	// busy is odd while the worker handles a batch of ready sockets.
	busy atomic.Uint64

	events [relayEvents]unix.EpollEvent
	// receive ring
	msgs  [relayBatch]mmsghdr
	iovs  [relayBatch]unix.Iovec
	names [relayBatch]unix.RawSockaddrInet6
	bufs  [relayBatch][readBufSize]byte
	// ctrl receives each datagram's kernel receive time (SO_TIMESTAMPNS)
	ctrl [relayBatch][rxCmsgSpace]byte
	// send queue: packets of the ring going out of socket qfd
	qfd    int
	qn     int
	qmsgs  [relayBatch]mmsghdr
	qiovs  [relayBatch]unix.Iovec
	qnames [relayBatch]unix.RawSockaddrInet6
	qeps   [relayBatch]*endpoint
	// sa is the destination of a single sendto
	sa unix.RawSockaddrInet6
}

// newRelay starts n workers.
func newRelay(n int, log *slog.Logger) (*relay, error) {
	rl := &relay{log: log}
	for range n {
		w, err := newWorker(rl)
		if err != nil {
			rl.close()
			return nil, err
		}
		rl.workers = append(rl.workers, w)
		rl.wg.Add(1)
		go w.run()
	}
	return rl, nil
}

func newWorker(rl *relay) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	w := &worker{rl: rl, epfd: epfd, evfd: evfd}
	for i := range relayBatch {
		w.iovs[i].Base = &w.bufs[i][0]
		w.iovs[i].SetLen(readBufSize)
		w.msgs[i].hdr.Iov = &w.iovs[i]
		w.msgs[i].hdr.SetIovlen(1)
		w.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		w.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		w.msgs[i].hdr.Control = &w.ctrl[i][0]
		w.qmsgs[i].hdr.Iov = &w.qiovs[i]
		w.qmsgs[i].hdr.SetIovlen(1)
		w.qmsgs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.qnames[i]))
	}
	return w, nil
}

// size is the number of workers (0 for a nil relay).
func (rl *relay) size() int {
	if rl == nil {
		return 0
	}
	return len(rl.workers)
}

// close stops every worker, waits for them and closes their descriptors.
// Sockets must have been released before.
func (rl *relay) close() {
	rl.once.Do(func() {
		one := [8]byte{1}
		for _, w := range rl.workers {
			_, _ = unix.Write(w.evfd, one[:])
		}
		rl.wg.Wait()
		for _, w := range rl.workers {
			_ = unix.Close(w.epfd)
			_ = unix.Close(w.evfd)
		}
	})
}

// slot returns the table slot of fd, making its chunk when create is set.
func (rl *relay) slot(fd int, create bool) *atomic.Pointer[mediaSock] {
	if fd < 0 || fd >= fdChunks<<fdChunkBits {
		return nil
	}
	c := rl.chunks[fd>>fdChunkBits].Load()
	if c == nil {
		if !create {
			return nil
		}
		rl.mu.Lock()
		if c = rl.chunks[fd>>fdChunkBits].Load(); c == nil {
			c = new(fdChunk)
			rl.chunks[fd>>fdChunkBits].Store(c)
		}
		rl.mu.Unlock()
	}
	return &c[fd&(1<<fdChunkBits-1)]
}

// attach hands a raw socket and its reader to a worker (round robin).
func (rl *relay) attach(s *mediaSock, r *reader) error {
	slot := rl.slot(s.fd, true)
	if slot == nil {
		return fmt.Errorf("media socket descriptor %d beyond the relay's table", s.fd)
	}
	s.r.Store(r)
	if s.gen = rl.gen.Add(1); s.gen == 0 {
		s.gen = rl.gen.Add(1)
	}
	w := rl.workers[int(rl.next.Add(1))%len(rl.workers)]
	s.w = w
	slot.Store(s)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd), Pad: int32(s.gen)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		slot.CompareAndSwap(s, nil)
		s.w = nil
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// detach takes s out of its worker's set and the table and returns once
// no worker can still use it.
func (w *worker) detach(s *mediaSock) {
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	if slot := w.rl.slot(s.fd, false); slot != nil {
		slot.CompareAndSwap(s, nil)
	}
	w.rl.quiesce()
}

// quiesce waits until every worker that is inside a batch has finished it.
func (rl *relay) quiesce() {
	for _, w := range rl.workers {
		b := w.busy.Load()
		if b&1 == 0 {
			continue
		}
		for i := 0; w.busy.Load() == b; i++ {
			if i < 64 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}

// run is the worker's loop; it ends when the worker's eventfd fires.
func (w *worker) run() {
	defer w.rl.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		n, err := unix.EpollWait(w.epfd, w.events[:], -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			w.rl.log.Error("media relay worker stops", "err", err)
			return
		}
		if !w.batch(n) {
			return
		}
	}
}

// batch serves n ready events; it reports false when told to stop.
func (w *worker) batch(n int) (more bool) {
	w.busy.Add(1)
	defer func() {
		if v := recover(); v != nil {
			w.rl.log.Error("media relay worker panicked", "panic", v)
			w.qn = 0
			more = true
		}
		w.busy.Add(1)
	}()
	for i := range n {
		ev := &w.events[i]
		if ev.Fd == int32(w.evfd) {
			return false
		}
		slot := w.rl.slot(int(ev.Fd), false)
		if slot == nil {
			continue
		}
		if s := slot.Load(); s != nil && s.gen == uint32(ev.Pad) {
			w.serve(s)
		}
	}
	return true
}

// serve drains up to relayBatch datagrams of one socket and relays them.
func (w *worker) serve(s *mediaSock) {
	r := s.r.Load()
	if r == nil {
		return
	}
	for i := range relayBatch {
		w.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		w.msgs[i].hdr.SetControllen(rxCmsgSpace)
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&w.msgs[0])),
		relayBatch, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		if errno == unix.EAGAIN || errno == unix.EINTR {
			return
		}
		if r.errs++; r.errs >= maxReadErrors {
			// Stop polling a socket that keeps failing, like a reader.
			_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
			w.rl.log.Error("media socket keeps failing; relay stops reading it", "err", errno, "local", s.local.String())
		}
		return
	}
	r.errs = 0
	now, wall := monoNow(), time.Now().UnixNano()
	for i := range int(n) {
		src, ok := fromSockaddr(&w.names[i])
		if !ok {
			continue
		}
		w.forward(r, w.bufs[i][:w.msgs[i].n], src, rxTime(&w.msgs[i].hdr, now, wall))
	}
	w.flush()
}

// rxCmsgSpace holds one SCM_TIMESTAMPNS control message: a cmsghdr and
// a timespec (CMSG_SPACE(16) on 64-bit Linux; checked in a test).
const rxCmsgSpace = 32

// rxTime is the monotonic time (monoNow's clock) at which the kernel
// received the datagram of h, from its SCM_TIMESTAMPNS (wall clock) and the
// clocks read together after the receive, now and wall; without a usable
// timestamp it is now. It is never after now and at most a second before
// it (a wall clock step never makes a packet older than that).
func rxTime(h *unix.Msghdr, now, wall int64) int64 {
	if uint64(h.Controllen) < uint64(unix.CmsgLen(0)) || h.Flags&unix.MSG_CTRUNC != 0 {
		return now
	}
	c := (*unix.Cmsghdr)(unsafe.Pointer(h.Control))
	if c.Level != unix.SOL_SOCKET || c.Type != unix.SCM_TIMESTAMPNS ||
		uint64(c.Len) < uint64(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{})))) {
		return now
	}
	ts := (*unix.Timespec)(unsafe.Add(unsafe.Pointer(h.Control), unix.CmsgLen(0)))
	age := wall - ts.Nano()
	return now - min(max(age, 0), int64(time.Second))
}

// forward runs the relay pipeline on one received datagram.
func (w *worker) forward(r *reader, b []byte, src netip.AddrPort, now int64) {
	pkt, ok := r.unprotect(b)
	if !ok {
		return
	}
	pkt, out, dst, ok := r.handle(pkt, src, now)
	if !ok {
		return
	}
	if tt := r.ep.tap.Load(); tt != nil {
		r.tapped(tt, pkt, src, dst)
	}
	if pkt, ok = r.protect(pkt); !ok {
		return
	}
	if out == nil || out.fd < 0 {
		r.ep.c.dropped.Add(1)
		return
	}
	if unsafe.SliceData(pkt) != unsafe.SliceData(b) {
		// The packet is in the reader's SRTP buffer, which the next
		// packet reuses: send it now, after what is queued.
		w.flush()
		if !w.sendto(out, pkt, dst) {
			r.ep.c.dropped.Add(1)
		}
		return
	}
	w.queue(out, pkt, dst, r.ep)
}

// queue adds a packet of the receive ring to the send queue.
func (w *worker) queue(out *mediaSock, pkt []byte, dst netip.AddrPort, ep *endpoint) {
	if w.qn > 0 && w.qfd != out.fd {
		w.flush()
	}
	i := w.qn
	nl, ok := toSockaddr(&w.qnames[i], dst, out.v6)
	if !ok {
		ep.c.dropped.Add(1)
		return
	}
	w.qmsgs[i].hdr.Namelen = nl
	w.qiovs[i].Base = unsafe.SliceData(pkt)
	w.qiovs[i].SetLen(len(pkt))
	w.qeps[i] = ep
	w.qfd = out.fd
	if w.qn++; w.qn == relayBatch {
		w.flush()
	}
}

// flush sends the queue with sendmmsg; a datagram the kernel refuses is
// counted as dropped on the endpoint it came in on.
func (w *worker) flush() {
	for sent := 0; sent < w.qn; {
		m, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(w.qfd), uintptr(unsafe.Pointer(&w.qmsgs[sent])),
			uintptr(w.qn-sent), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || m == 0 {
			w.qeps[sent].c.dropped.Add(1)
			sent++
			continue
		}
		sent += int(m)
	}
	clear(w.qeps[:w.qn])
	w.qn = 0
}

// sendto sends one datagram now.
func (w *worker) sendto(out *mediaSock, b []byte, dst netip.AddrPort) bool {
	nl, ok := toSockaddr(&w.sa, dst, out.v6)
	if !ok || len(b) == 0 {
		return false
	}
	for {
		_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(out.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))),
			uintptr(len(b)), unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&w.sa)), uintptr(nl))
		if errno != unix.EINTR {
			return errno == 0
		}
	}
}

// toSockaddr writes dst as a sockaddr for a socket of the given family
// (IPv4 peers of an AF_INET6 socket as mapped addresses) and returns its
// length; ok is false when the socket cannot reach dst.
func toSockaddr(sa *unix.RawSockaddrInet6, dst netip.AddrPort, v6 bool) (uint32, bool) {
	a := dst.Addr()
	port := dst.Port()
	if !v6 {
		if !a.Unmap().Is4() {
			return 0, false
		}
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		s4.Addr = a.Unmap().As4()
		s4.Zero = [8]uint8{}
		return unix.SizeofSockaddrInet4, true
	}
	sa.Family = unix.AF_INET6
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	sa.Flowinfo = 0
	sa.Addr = a.As16()
	sa.Scope_id = 0
	return unix.SizeofSockaddrInet6, true
}

// fromSockaddr reads a received datagram's source (IPv4-mapped addresses
// unmapped).
func fromSockaddr(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1])), true
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1])), true
	}
	return netip.AddrPort{}, false
}

// openRaw opens a non-blocking UDP socket bound to a, outside Go's
// poller. An unspecified IPv4 address binds the dual-stack "::" like
// net.ListenUDP("udp", ...) does.
func openRaw(a netip.AddrPort, dscp int) (*mediaSock, error) {
	addr := a.Addr()
	v6 := addr.Is6() || addr.IsUnspecified()
	domain := unix.AF_INET
	if v6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	var sa unix.Sockaddr
	if v6 {
		if addr.IsUnspecified() {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		}
		sa = &unix.SockaddrInet6{Port: int(a.Port()), Addr: addr.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(a.Port()), Addr: addr.As4()}
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketReadBuffer)
	// Kernel receive timestamps: a packet's processing time counts from
	// its arrival, queueing in the socket buffer included.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	if dscp >= 0 {
		setTOS(uintptr(fd), dscp<<2, v6)
	}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return &mediaSock{fd: fd, local: netip.AddrPortFrom(addr.Unmap(), a.Port()), v6: v6}, nil
}

// rawWrite sends one datagram from a raw socket (off the hot path).
func rawWrite(s *mediaSock, b []byte, dst netip.AddrPort) (int, error) {
	sa := new(unix.RawSockaddrInet6)
	nl, ok := toSockaddr(sa, dst, s.v6)
	if !ok {
		return 0, fmt.Errorf("send to %s: %w", dst, unix.EAFNOSUPPORT)
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(p), uintptr(len(b)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(sa)), uintptr(nl))
	if errno != 0 {
		return 0, os.NewSyscallError("sendto", errno)
	}
	return int(n), nil
}

func rawClose(fd int) error { return unix.Close(fd) }

// rawRelaySupported tells whether this build has the epoll relay.
const rawRelaySupported = true

// niceThread lowers the calling OS thread's scheduling priority by n
// (the caller has locked its goroutine to the thread).
func niceThread(n int) error {
	tid := unix.Gettid()
	cur, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return os.NewSyscallError("getpriority", err)
	}
	// getpriority(2) returns 20 - nice.
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-cur+n, 19)); err != nil {
		return os.NewSyscallError("setpriority", err)
	}
	return nil
}
