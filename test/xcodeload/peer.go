//go:build linux && cgo

package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
	"github.com/openborder/openborder/test/kstamp"
)

// The load generator keeps its own cost low so that it disturbs the relay
// it measures as little as possible on a shared machine: raw non-blocking
// sockets outside Go's poller, one sender on a locked OS thread issuing
// plain sendto calls from pre-encoded frames, and receivers on locked
// threads that drain ready sockets with recvmmsg from their own epoll set.
// Every datagram received carries its kernel receive time
// (SO_TIMESTAMPNS), so the generator's own scheduling after the arrival
// does not count in the latency.

// slots spreads the calls' packets over each 20 ms, as real calls would
// be, in this many groups.
const slots = 10

// peerReceivers is the number of receiving threads.
const peerReceivers = 2

// peerBatch is the number of datagrams one recvmmsg takes.
const peerBatch = 8

type leg struct {
	fd   int
	port int
	sbc  netip.AddrPort
	sa   unix.RawSockaddrInet4
	slot time.Duration // offset of this call's packets in each 20 ms
	// start is the tick at which the call's first frame is due: calls
	// join over the ramp, frame k of the call is due at tick start+k.
	start int
	pt    byte // payload type expected back
	size  int  // datagram size expected back (0: any)
	// sentAt[k] is the wall time (ns) at which frame k left this leg;
	// written by the sender before the frame is sent.
	sentAt []atomic.Int64
	// from is the other leg of the call, whose frames arrive here.
	from  *leg
	got   atomic.Uint64
	wrong atomic.Uint64
}

// latency is a histogram of durations: bucket i counts those below 2^i µs.
type latency [24]atomic.Uint64

func (h *latency) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h[min(bits.Len64(uint64(us)), len(h)-1)].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *latency) quantile(q float64) time.Duration {
	var total, acc uint64
	for i := range h {
		total += h[i].Load()
	}
	for i := range h {
		acc += h[i].Load()
		if total > 0 && float64(acc) >= q*float64(total) {
			return time.Duration(1<<i) * time.Microsecond
		}
	}
	return 0
}

// maxDur keeps the largest duration stored.
type maxDur struct{ atomic.Int64 }

func (m *maxDur) note(d time.Duration) {
	for {
		old := m.Load()
		if int64(d) <= old || m.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (m *maxDur) get() time.Duration { return time.Duration(m.Load()).Round(10 * time.Microsecond) }

// measures is what the generator measures.
type measures struct {
	// e2e: kernel receive time of a transcoded frame minus the time its
	// original was due (its slot in the schedule): what a caller whose
	// phone sends on time sees. late counts those above 20 ms.
	e2e    latency
	e2eMax maxDur
	late   atomic.Int64
	// lateAt counts the late frames by the second of the run they were
	// due in: a start-up transient, a steady trickle and a stall look
	// different.
	lateAt [600]atomic.Int64
	// path: kernel receive time minus the time the original was actually
	// sent (the relay and the two kernels only). pathLate above 20 ms.
	path     latency
	pathMax  maxDur
	pathLate atomic.Int64
	// lag: how far behind its slot the sender sent a frame.
	lag    latency
	lagMax maxDur
}

func openLeg(ip netip.Addr) (*leg, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("SO_TIMESTAMPNS", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip.As4()}); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	return &leg{fd: fd, port: sa.(*unix.SockaddrInet4).Port}, nil
}

// runPeer is the load generator: it opens two sockets per call, tells the
// other side their ports, learns the relay's, sends for duration and
// reports.
func runPeer(calls int, duration, ramp time.Duration, in io.Reader, out io.Writer) error {
	as, bs := make([]*leg, calls), make([]*leg, calls)
	var legs []*leg
	defer func() {
		for _, l := range legs {
			_ = unix.Close(l.fd)
		}
	}()
	ports := make([]any, 0, 2*calls)
	format := "ports"
	for i := range calls {
		for _, x := range []struct {
			l  **leg
			ip netip.Addr
		}{{&as[i], aIP}, {&bs[i], bIP}} {
			l, err := openLeg(x.ip)
			if err != nil {
				return err
			}
			legs = append(legs, l)
			*x.l = l
			ports = append(ports, l.port)
			format += " %d"
		}
	}
	fmt.Fprintf(out, format+"\n", ports...)
	rd := bufio.NewReader(in)
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	playback, err := ints(line, "maxplaybackrate", 1)
	if err != nil {
		return err
	}
	if line, err = rd.ReadString('\n'); err != nil {
		return err
	}
	sbc, err := ints(line, "sbc", 2*calls)
	if err != nil {
		return err
	}
	ticks := int(duration / (20 * time.Millisecond))
	rampTicks := int(ramp / (20 * time.Millisecond))
	for i := range calls {
		for j, l := range []*leg{as[i], bs[i]} {
			ip := aIP
			if j == 1 {
				ip = bIP
			}
			if sbc[2*i+j] <= 0 || sbc[2*i+j] > 65535 {
				return fmt.Errorf("relay port %d of call %d out of range", sbc[2*i+j], i)
			}
			l.sbc = netip.AddrPortFrom(ip, uint16(sbc[2*i+j]))
			l.sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
			binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&l.sa.Port))[:], l.sbc.Port())
			l.slot = time.Duration(i%slots) * 20 * time.Millisecond / slots
			l.start = i * rampTicks / calls
			l.sentAt = make([]atomic.Int64, ticks)
		}
		as[i].from, bs[i].from = bs[i], as[i]
		as[i].pt, as[i].size = 111, 0 // Opus back on the A leg
		bs[i].pt, bs[i].size = 0, 12+160
	}

	// One second of pre-encoded audio per side (50 frames), looped.
	// The encoder keeps to the bandwidth the relay's answer allows, as a
	// WebRTC endpoint does with maxplaybackrate.
	enc, err := opus.NewEncoder(opus.EncoderConfig{MaxBandwidthHz: opusBandwidth(playback[0])})
	if err != nil {
		return err
	}
	var opusFrames, ulawFrames [50][]byte
	for f := range 50 {
		buf := make([]byte, 1500)
		n, err := enc.Encode(audiocheck.Sine(48000, f*960, 960, 1000, 8000), buf)
		if err != nil {
			return err
		}
		opusFrames[f] = buf[:n]
		u := make([]byte, 160)
		codecs.UlawEncodeFrame(u, audiocheck.Sine(8000, f*160, 160, 600, 8000))
		ulawFrames[f] = u
	}

	sched := make([]int64, ticks+rampTicks) // wall time each tick was due
	var m measures
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, peerReceivers)
	for r := range peerReceivers {
		var mine []*leg
		for i := r; i < len(legs); i += peerReceivers {
			mine = append(mine, legs[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := receive(mine, sched, &m, &stop); err != nil {
				errs <- err
			}
		}()
	}

	fmt.Fprintln(out, "start")
	sendErr := send(as, bs, ticks+rampTicks, sched, opusFrames[:], ulawFrames[:], &m)
	fmt.Fprintln(out, "stop")
	time.Sleep(300 * time.Millisecond) // let the last frames arrive
	stop.Store(true)
	wg.Wait()
	close(errs)
	if sendErr != nil {
		return sendErr
	}
	if err := <-errs; err != nil {
		return err
	}
	var gotA, gotB, wrong uint64
	for i := range calls {
		gotA += as[i].got.Load()
		gotB += bs[i].got.Load()
		wrong += as[i].wrong.Load() + bs[i].wrong.Load()
	}
	want := uint64(calls * ticks)
	verdict := "OK"
	// The bar: no frame lost, and at most 0.1% of frames later than one
	// frame time after they were due.
	if gotA+gotB < 2*want || uint64(m.late.Load())*1000 > 2*want {
		verdict = "FAIL"
	}
	var by []string
	for i := range m.lateAt {
		if n := m.lateAt[i].Load(); n > 0 {
			by = append(by, fmt.Sprintf("%d:%d", i, n))
		}
	}
	fmt.Fprintf(out, "frames_per_direction=%d opus_to_pcmu_received=%d pcmu_to_opus_received=%d loss=%d wrong=%d "+
		"latency_p50<%v p99<%v max=%v late_over_20ms=%d late_by_second=%s "+
		"path_p50<%v p99<%v max=%v path_over_20ms=%d sender_lag_p50<%v p99<%v max=%v %s\n",
		want, gotB, gotA, 2*want-min(2*want, gotA+gotB), wrong,
		m.e2e.quantile(0.5), m.e2e.quantile(0.99), m.e2eMax.get(), m.late.Load(), strings.Join(by, ","),
		m.path.quantile(0.5), m.path.quantile(0.99), m.pathMax.get(), m.pathLate.Load(),
		m.lag.quantile(0.5), m.lag.quantile(0.99), m.lagMax.get(), verdict)
	return nil
}

// send runs the schedule on a locked OS thread: every 20 ms each call's
// two legs send a frame, the calls spread over the 20 ms in slots groups;
// a call sends its frames from its start tick on, one per tick.
func send(as, bs []*leg, ticks int, sched []int64, opusFrames, ulawFrames [][]byte, m *measures) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	calls := len(as)
	var pkt [12 + 1500]byte
	t0 := time.Now()
	for t := range ticks {
		start := t0.Add(time.Duration(t) * 20 * time.Millisecond)
		sched[t] = start.UnixNano()
		for g := range slots {
			due := start.Add(time.Duration(g) * 20 * time.Millisecond / slots)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			for i := g; i < calls; i += slots {
				k := t - as[i].start // the call's own frame number
				if k < 0 || k >= len(as[i].sentAt) {
					continue
				}
				for side, l := range []*leg{as[i], bs[i]} {
					payload, pt, step := opusFrames[k%50], byte(111), uint32(960)
					if side == 1 {
						payload, pt, step = ulawFrames[k%50], 0, 160
					}
					pkt[0], pkt[1] = 0x80, pt
					binary.BigEndian.PutUint16(pkt[2:], uint16(k))
					binary.BigEndian.PutUint32(pkt[4:], uint32(k)*step)
					binary.BigEndian.PutUint32(pkt[8:], uint32(i*2+side+1))
					n := 12 + copy(pkt[12:], payload)
					now := time.Now()
					l.sentAt[k].Store(now.UnixNano())
					lag := now.Sub(due)
					m.lag.add(lag)
					m.lagMax.note(lag)
					_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(l.fd), uintptr(unsafe.Pointer(&pkt[0])), uintptr(n),
						unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&l.sa)), unix.SizeofSockaddrInet4)
					if errno != 0 && errno != unix.EAGAIN {
						return fmt.Errorf("send to %s: %w", l.sbc, errno)
					}
				}
			}
		}
	}
	return nil
}

// receive drains the legs' sockets until stop, on a locked OS thread with
// its own epoll set, and measures each frame against its schedule.
func receive(legs []*leg, sched []int64, m *measures, stop *atomic.Bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	defer unix.Close(epfd)
	for i, l := range legs {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, l.fd, &ev); err != nil {
			return os.NewSyscallError("epoll_ctl", err)
		}
	}
	var (
		events [128]unix.EpollEvent
		msgs   [peerBatch]struct {
			hdr unix.Msghdr
			n   uint32
		}
		iovs [peerBatch]unix.Iovec
		bufs [peerBatch][2048]byte
		ctrl [peerBatch][64]byte
	)
	for i := range peerBatch {
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.SetIovlen(1)
		msgs[i].hdr.Control = &ctrl[i][0]
	}
	wait, nap := 50, unix.NsecToTimespec(int64(peerPoll))
	if peerPoll > 0 {
		wait = 0
	}
	for !stop.Load() {
		if peerPoll > 0 {
			_ = unix.Nanosleep(&nap, nil) // on this thread: no wake-up by the runtime
		}
		n, err := unix.EpollWait(epfd, events[:], wait)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return os.NewSyscallError("epoll_wait", err)
		}
		for _, ev := range events[:n] {
			l := legs[ev.Fd]
			for {
				for i := range peerBatch {
					msgs[i].hdr.SetControllen(len(ctrl[i]))
				}
				got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(l.fd), uintptr(unsafe.Pointer(&msgs[0])),
					peerBatch, unix.MSG_DONTWAIT, 0, 0)
				if errno != 0 {
					break // EAGAIN: drained
				}
				wall := time.Now().UnixNano()
				for i := range int(got) {
					l.frame(bufs[i][:msgs[i].n], kernelTime(&msgs[i].hdr, ctrl[i][:], wall), sched, m)
				}
				if got < peerBatch {
					break
				}
			}
		}
	}
	return nil
}

// frame accounts one datagram received on l at wall time rx (ns).
func (l *leg) frame(b []byte, rx int64, sched []int64, m *measures) {
	if len(b) < 12 || b[1]&0x7f >= 72 && b[1]&0x7f <= 76 {
		return // RTCP
	}
	if b[1]&0x7f != l.pt || (l.size > 0 && len(b) != l.size) {
		l.wrong.Add(1)
		return
	}
	// One frame out per frame in, in order: the k-th packet received is
	// the transcoded k-th frame sent.
	k := l.got.Add(1) - 1
	if k >= uint64(len(l.sentAt)) {
		return
	}
	due := k + uint64(l.start) // the tick the original was due in
	d := time.Duration(rx-sched[due]) - l.slot
	m.e2e.add(d)
	m.e2eMax.note(d)
	if d > 20*time.Millisecond {
		m.late.Add(1)
		m.lateAt[min(due/50, uint64(len(m.lateAt)-1))].Add(1)
	}
	p := time.Duration(rx - l.from.sentAt[k].Load())
	m.path.add(p)
	m.pathMax.note(p)
	if p > 20*time.Millisecond {
		m.pathLate.Add(1)
	}
}

// kernelTime returns a datagram's SCM_TIMESTAMPNS receive time (wall
// clock, ns), or wall when it has none.
func kernelTime(h *unix.Msghdr, ctrl []byte, wall int64) int64 {
	if t := kstamp.Arrival(ctrl[:min(uint64(h.Controllen), uint64(len(ctrl)))]); t != 0 {
		return t
	}
	return wall
}
