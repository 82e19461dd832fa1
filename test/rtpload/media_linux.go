//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// udpSock is a non-blocking UDP socket bound to 127.0.0.1 (the peers'
// address with -two-hosts) on a port the kernel chose, used through raw system calls so that a send is one
// write(2) and a receive one read(2).
type udpSock struct {
	fd    int
	local netip.AddrPort
}

func openSock() (udpSock, error) {
	var fd int
	var err error
	if nsErr := inPeersNS(func() {
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	}); nsErr != nil {
		return udpSock{fd: -1}, nsErr
	}
	if err != nil {
		return udpSock{fd: -1}, fmt.Errorf("socket: %w", err)
	}
	// The kernel stamps every datagram with its arrival time in this
	// socket (SCM_TIMESTAMPNS): the arrival latency without the tool's
	// own wait to read it.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		syscall.Close(fd)
		return udpSock{fd: -1}, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: hosts.peers.As4()}); err != nil {
		syscall.Close(fd)
		return udpSock{fd: -1}, fmt.Errorf("bind: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return udpSock{fd: -1}, fmt.Errorf("getsockname: %w", err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		syscall.Close(fd)
		return udpSock{fd: -1}, fmt.Errorf("getsockname: %T", sa)
	}
	return udpSock{fd: fd, local: netip.AddrPortFrom(hosts.peers, uint16(in.Port))}, nil
}

// connect fixes the socket's peer: writes go there and only its
// datagrams are received.
func (s udpSock) connect(dst netip.AddrPort) error {
	if dst.Addr() != hosts.relay && dst.Addr() != hosts.peers {
		return fmt.Errorf("connect to %s: only %s and %s are targets", dst, hosts.relay, hosts.peers)
	}
	if err := syscall.Connect(s.fd, &syscall.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}); err != nil {
		return fmt.Errorf("connect to %s: %w", dst, err)
	}
	return nil
}

func (s udpSock) close() {
	if s.fd >= 0 {
		syscall.Close(s.fd)
	}
}

// receiver reads a share of the sockets through its own epoll set and
// keeps the statistics of the streams arriving on them.
type receiver struct {
	epfd int
	fds  []int
	// fdStream maps a file descriptor to the stream it must receive
	// (shared, read-only during the run).
	fdStream []int32
	streams  []*streamStats // shared slice; this receiver touches its own streams only
	// fdDec opens the SRTP arriving on a file descriptor (nil: plain);
	// shared slice, each context used by the one receiver of its fd.
	fdDec []*srtp.Context
	hist  *histogram
	// arrival holds the latencies to the kernel's arrival timestamp in
	// the receiving socket; unstamped counts datagrams without one.
	arrival   *histogram
	unstamped uint64
	// latencyFrom: packets sent before this time since base (-warmup)
	// count for loss only.
	latencyFrom int64
	// poll, above 0, collects what arrived every poll instead of waiting
	// in epoll to be woken by each datagram (options.poll).
	poll time.Duration

	misrouted, malformed, readErrors, wakeups, authFailures uint64
}

func newReceiver() (*receiver, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &receiver{epfd: ep, hist: new(histogram), arrival: new(histogram)}, nil
}

func (r *receiver) add(fd int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	r.fds = append(r.fds, fd)
	return nil
}

func (r *receiver) close() { syscall.Close(r.epfd) }

// run reads until stop is set or the hard deadline passes. base is the
// clock origin of the send times in the probes.
func (r *receiver) run(stop *atomic.Bool, deadline, base time.Time) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 2048)
	plain := make([]byte, 2048)
	rd := newStampedReader(buf)
	// The kernel's stamps are CLOCK_REALTIME, the probes' send times
	// monotonic since base: baseWall converts (the wall clock is assumed
	// not to be stepped during a run; slewing moves it by ppm).
	baseWall := base.UnixNano()
	wait, nap := 20, syscall.NsecToTimespec(int64(r.poll))
	if r.poll > 0 {
		wait = 0
	}
	for !stop.Load() && time.Now().Before(deadline) {
		if r.poll > 0 {
			_ = syscall.Nanosleep(&nap, nil) // this thread sleeps: no wake-up per datagram
		}
		n, err := syscall.EpollWait(r.epfd, events, wait)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			r.readErrors++
			time.Sleep(time.Millisecond)
			continue
		}
		r.wakeups++
		for i := range n {
			fd := int(events[i].Fd)
			nr, rxWall, err := rd.read(fd)
			if err != nil {
				if !errors.Is(err, syscall.EAGAIN) {
					r.readErrors++ // e.g. ECONNREFUSED from an ICMP error
				}
				continue
			}
			now := time.Since(base)
			pkt := buf[:nr]
			if fd < len(r.fdDec) && r.fdDec[fd] != nil {
				if pkt, err = r.fdDec[fd].DecryptRTP(plain[:0], pkt, nil); err != nil {
					r.authFailures++
					continue
				}
			}
			stream, seq, sent, err := probe(pkt)
			if err != nil {
				r.malformed++
				continue
			}
			if fd >= len(r.fdStream) || int32(stream) != r.fdStream[fd] {
				r.misrouted++
				continue
			}
			r.streams[stream].record(seq)
			if sent < r.latencyFrom {
				continue
			}
			r.hist.add(int64(now) - sent)
			if rxWall == 0 {
				r.unstamped++
			} else {
				r.arrival.add(rxWall - baseWall - sent)
			}
		}
	}
}

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// sender paces every stream: each packet interval is cut into slots and
// the streams of one slot are sent together, so the load is spread evenly
// instead of arriving as one burst per interval.
type sender struct {
	fds    []int           // fds[s] sends stream s
	pkts   [][]byte        // one prepared packet per stream
	enc    []*srtp.Context // enc[s] protects stream s (nil: plain)
	sent   []uint64
	errors uint64
	maxLag time.Duration // worst delay behind the schedule
	// With timeWrites, writeCPU is the sending thread's CPU time inside
	// its write(2) calls: on loopback the kernel forwards the datagram
	// (conntrack NAT, tc programs such as the in-kernel SRTP, delivery
	// into the receiving socket) within the call, so the difference
	// between a relay run and a -direct run is the relay's kernel work
	// per packet, measured by the thread's own clock.
	timeWrites bool
	writeCPU   time.Duration
}

// run sends rounds packets on every stream, one every period, starting at
// start, or until ctx ends. tsStep is the RTP timestamp increment per packet.
func (s *sender) run(ctx context.Context, base, start time.Time, rounds, slots int, period time.Duration, tsStep uint32) {
	if s.timeWrites { // the thread clock must be this goroutine's
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	n := len(s.fds)
	out := make([]byte, 2048)
	for r := range rounds {
		if ctx.Err() != nil {
			return
		}
		for k := range slots {
			target := start.Add(time.Duration(r)*period + time.Duration(k)*period/time.Duration(slots))
			if d := time.Until(target); d > 0 {
				time.Sleep(d)
			} else {
				s.maxLag = max(s.maxLag, -d)
			}
			for st := k; st < n; st += slots {
				stamp(s.pkts[st], uint32(r), uint32(r)*tsStep, int64(time.Since(base)))
				pkt := s.pkts[st]
				if s.enc[st] != nil {
					var err error
					if pkt, err = s.enc[st].EncryptRTP(out[:0], pkt, nil); err != nil {
						s.errors++
						continue
					}
				}
				var t0 time.Duration
				if s.timeWrites {
					t0 = threadCPU()
				}
				_, err := syscall.Write(s.fds[st], pkt)
				if s.timeWrites {
					s.writeCPU += threadCPU() - t0
				}
				if err != nil {
					s.errors++
					continue
				}
				s.sent[st]++
			}
		}
	}
}
