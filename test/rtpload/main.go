//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openborder/openborder/rtpengine/ksrtp"
	"github.com/openborder/openborder/rtpengine/ng"
	"github.com/openborder/openborder/test/e2e"
	"github.com/pion/srtp/v3"
)

type options struct {
	sbcd      string
	calls     int
	pps       int
	duration  time.Duration
	payload   int
	srtp      string
	maxLoss   float64
	receivers int
	poll      time.Duration
	direct    bool
	portMin   int
	portMax   int
	pprof     string
	grace     time.Duration
	warmup    time.Duration
	// ng and relayPid drive a relay that is already running (another
	// product speaking the ng protocol) instead of starting sbcd.
	ng       string
	relayPid int
	// relayMode and workers go to sbcd's media.relay.
	relayMode string
	workers   int
	// kernel is sbcd's media.relay.kernel_forwarding; netns runs the
	// whole measurement in a network namespace of its own.
	kernel string
	netns  bool
	// twoHosts puts the calls' sockets in a second namespace behind a
	// veth pair (with netns).
	twoHosts bool
	// sendCPU times every write(2) on the sending thread's clock.
	sendCPU bool
}

var errLoss = errors.New("loss above -max-loss")

func main() {
	var o options
	flag.StringVar(&o.sbcd, "sbcd", "", "sbcd binary (default: go build ./cmd/sbcd into a temp dir)")
	flag.IntVar(&o.calls, "calls", 840, "calls to relay at once (each: RTP both ways)")
	flag.IntVar(&o.pps, "pps", 50, "packets per second per stream and direction")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	flag.IntVar(&o.payload, "payload", 160, "RTP payload bytes per packet (160 = G.711, 20 ms)")
	flag.StringVar(&o.srtp, "srtp", "none", "none (plain RTP/AVP both sides) or sdes (tag A speaks SDES-SRTP, tag B plain RTP: the relay decrypts one way and encrypts the other)")
	flag.Float64Var(&o.maxLoss, "max-loss", 0.01, "exit non-zero when more than this percentage of packets is lost")
	flag.IntVar(&o.receivers, "receivers", 2, "receiver goroutines (each with its own epoll set)")
	flag.DurationVar(&o.poll, "poll", 0, "receivers collect what arrived this often instead of being woken by each datagram, as a NIC coalesces interrupts (0: woken); on loopback a receiver's wake-up is charged to the relay's send")
	flag.BoolVar(&o.direct, "direct", false, "no sbcd: connect each call's two sockets to each other (baseline)")
	flag.IntVar(&o.portMin, "port-min", 20000, "first media port of sbcd")
	flag.IntVar(&o.portMax, "port-max", 39999, "last media port of sbcd")
	flag.StringVar(&o.pprof, "pprof", "", "write a CPU profile of sbcd over the measured window to this file")
	flag.DurationVar(&o.grace, "grace", time.Second, "how long to keep receiving after the last send")
	flag.DurationVar(&o.warmup, "warmup", 0, "packets sent in this first part of the run count for loss but not in the latency figures")
	flag.StringVar(&o.ng, "ng", "", "drive a running relay's ng socket at this loopback address instead of starting sbcd")
	flag.IntVar(&o.relayPid, "relay-pid", 0, "with -ng: the relay's process id, for its CPU time")
	flag.StringVar(&o.relayMode, "relay", "auto", "sbcd's media.relay.mode: auto, epoll or goroutine")
	flag.IntVar(&o.workers, "workers", 0, "sbcd's media.relay.workers (0: its default)")
	flag.StringVar(&o.kernel, "kernel", "off", "sbcd's media.relay.kernel_forwarding: off, auto or on (on needs root and NAT hooks: use -netns)")
	flag.BoolVar(&o.netns, "netns", false, "run inside a network namespace of its own with conntrack NAT hooks (root; deleted at the end)")
	flag.BoolVar(&o.twoHosts, "two-hosts", false, "with -netns: the calls' sockets live in a second namespace joined to sbcd's by a veth pair ("+twoHostsPeers.String()+" and "+twoHostsRelay.String()+"), so media arrives on a device and leaves by one, as between hosts")
	flag.BoolVar(&o.sendCPU, "send-cpu", false, "time every send on the sending thread's CPU clock and report send_cpu_per_pkt_us: on loopback it holds the kernel's forwarding of the packet (compare with a -direct run)")
	flag.Parse()
	if o.netns && os.Getenv(inNetnsEnv) == "" {
		if err := o.validate(); err != nil {
			fmt.Fprintln(os.Stderr, "rtpload:", err)
			os.Exit(1)
		}
		code, err := runInNetns(os.Args[1:], o.twoHosts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rtpload:", err)
			os.Exit(1)
		}
		os.Exit(code)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "rtpload:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	var errs []error
	if o.calls <= 0 || o.calls > 10000 {
		errs = append(errs, fmt.Errorf("-calls %d: want 1..10000", o.calls))
	}
	if o.pps <= 0 || o.pps > 1000 {
		errs = append(errs, fmt.Errorf("-pps %d: want 1..1000", o.pps))
	}
	if o.duration < time.Second || o.duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("-duration %v: want 1s..24h", o.duration))
	}
	if o.payload < minPayload || o.payload > 1400 {
		errs = append(errs, fmt.Errorf("-payload %d: want %d..1400", o.payload, minPayload))
	}
	if o.srtp != "none" && o.srtp != "sdes" {
		errs = append(errs, fmt.Errorf("-srtp %q: want none or sdes", o.srtp))
	}
	if o.maxLoss < 0 || o.maxLoss > 100 {
		errs = append(errs, fmt.Errorf("-max-loss %g: want a percentage 0..100", o.maxLoss))
	}
	if o.receivers < 1 || o.receivers > 64 {
		errs = append(errs, fmt.Errorf("-receivers %d: want 1..64", o.receivers))
	}
	if o.portMin < 1024 || o.portMax > 65535 || o.portMax-o.portMin+1 < 4*o.calls {
		errs = append(errs, fmt.Errorf("-port-min %d -port-max %d: want >= 1024, <= 65535 and 4 ports per call", o.portMin, o.portMax))
	}
	if o.warmup < 0 || o.warmup >= o.duration {
		errs = append(errs, fmt.Errorf("-warmup %v: want 0 up to less than -duration", o.warmup))
	}
	if o.grace < 0 || o.grace > time.Minute {
		errs = append(errs, fmt.Errorf("-grace %v: want 0..1m", o.grace))
	}
	if o.relayMode != "auto" && o.relayMode != "epoll" && o.relayMode != "goroutine" {
		errs = append(errs, fmt.Errorf("-relay %q: want auto, epoll or goroutine", o.relayMode))
	}
	if o.kernel == "" {
		o.kernel = "off" // the zero options (tests) mean sbcd's default
	}
	if o.kernel != "off" && o.kernel != "auto" && o.kernel != "on" {
		errs = append(errs, fmt.Errorf("-kernel %q: want off, auto or on", o.kernel))
	}
	if o.kernel != "off" && (o.direct || o.ng != "") {
		errs = append(errs, errors.New("-kernel is sbcd's setting: not with -direct or -ng"))
	}
	if o.twoHosts && (!o.netns || o.ng != "") {
		errs = append(errs, errors.New("-two-hosts needs -netns and excludes -ng"))
	}
	if o.workers < 0 || o.workers > 256 {
		errs = append(errs, fmt.Errorf("-workers %d: want 0..256", o.workers))
	}
	if o.ng != "" {
		if a, err := netip.ParseAddrPort(o.ng); err != nil || !a.Addr().IsLoopback() {
			errs = append(errs, fmt.Errorf("-ng %q: want a loopback address:port", o.ng))
		}
		if o.relayPid <= 0 {
			errs = append(errs, errors.New("-ng needs -relay-pid (the relay's process id)"))
		}
		if o.direct || o.sbcd != "" || o.pprof != "" {
			errs = append(errs, errors.New("-ng excludes -direct, -sbcd and -pprof"))
		}
	} else if o.relayPid != 0 {
		errs = append(errs, errors.New("-relay-pid needs -ng"))
	}
	return errors.Join(errs...)
}

// call is one relayed call: socket a is tag A's, b tag B's. Stream 2i
// (A to B) is written on a and read on b; stream 2i+1 the other way.
// With -srtp sdes, enc protects what a sends (A's key) and decA opens what
// a receives (the relay's key for A); b is plain. Without a relay (-direct)
// b receives A's SRTP itself and decB opens it, so the tool does the same
// SRTP work per packet pair as with a relay: the baseline of the SRTP
// figure.
type call struct {
	id         string
	a, b       udpSock
	enc        *srtp.Context
	decA, decB *srtp.Context
}

func run(o options) error {
	res, err := measure(o)
	if err != nil {
		return err
	}
	fmt.Println(res.String())
	if res.lossPct > o.maxLoss {
		return fmt.Errorf("%w: %.4f%% > %g%%", errLoss, res.lossPct, o.maxLoss)
	}
	if res.misrouted > 0 {
		return fmt.Errorf("%d packets arrived on the wrong stream or failed SRTP authentication", res.misrouted)
	}
	return nil
}

// measure sets the calls up, relays them for the run and returns the figures.
func measure(o options) (*result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "rtpload-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var (
		sbcd  *e2e.Sbcd
		ngc   *ngClient
		admin string
		pid   string
	)
	switch {
	case o.ng != "":
		if ngc, err = dialExternal(o.ng); err != nil {
			return nil, err
		}
		defer ngc.Close()
		pid = strconv.Itoa(o.relayPid)
	case !o.direct:
		sbcd, ngc, admin, err = startSbcd(o, dir)
		if err != nil {
			return nil, err
		}
		defer stopSbcd(sbcd)
		defer ngc.Close()
		pid = strconv.Itoa(sbcd.Pid())
	}

	calls := make([]call, 0, o.calls)
	defer func() {
		for _, c := range calls {
			c.a.close()
			c.b.close()
		}
	}()
	setupStart := time.Now()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range o.calls {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, err := setupCall(ngc, fmt.Sprintf("rtpload-%s-%d", tag, i), o.srtp == "sdes")
		if c.a.fd >= 0 || c.b.fd >= 0 {
			calls = append(calls, c)
		}
		if err != nil {
			return nil, fmt.Errorf("call %d of %d: %w", i+1, o.calls, err)
		}
	}
	setup := time.Since(setupStart)
	if ngc != nil {
		defer func() {
			failed := 0
			for _, c := range calls {
				if err := ngc.delete(c.id); err != nil {
					failed++
				}
			}
			if failed > 0 {
				fmt.Fprintf(os.Stderr, "rtpload: %d of %d deletes failed\n", failed, len(calls))
			}
		}()
	}

	res, err := relay(ctx, o, calls, pid, admin)
	if err != nil {
		return nil, err
	}
	res.add("setup_s", "%.2f", setup.Seconds())
	return res, nil
}

// setupCall opens the two sockets of a call and, through sbcd, points each
// at the port sbcd allocated for it; without ngc (-direct) at each other.
// With sdes, A offers SDES-SRTP and asks for plain RTP toward B.
func setupCall(ngc *ngClient, id string, sdes bool) (call, error) {
	c := call{id: id, a: udpSock{fd: -1}, b: udpSock{fd: -1}}
	var err error
	if c.a, err = openSock(); err != nil {
		return c, err
	}
	if c.b, err = openSock(); err != nil {
		return c, err
	}
	dstA, dstB := c.b.local, c.a.local
	switch {
	case ngc != nil && sdes:
		if dstA, dstB, err = setupSDES(ngc, &c); err != nil {
			return c, err
		}
	case sdes: // -direct: b opens what a protects
		if c.enc, c.decB, err = directSDES(); err != nil {
			return c, err
		}
	case ngc != nil:
		// the offer's reply is for B, the answer's reply for A
		if dstB, err = ngc.offerAnswer("offer", id, "A", "", c.a.local); err != nil {
			return c, err
		}
		if dstA, err = ngc.offerAnswer("answer", id, "A", "B", c.b.local); err != nil {
			return c, err
		}
	}
	if err := c.a.connect(dstA); err != nil {
		return c, err
	}
	return c, c.b.connect(dstB)
}

// setupSDES sets up c with A on SDES-SRTP and B on plain RTP and returns
// where A and B must send.
func setupSDES(ngc *ngClient, c *call) (dstA, dstB netip.AddrPort, err error) {
	keyA, err := newSDESKey()
	if err != nil {
		return dstA, dstB, err
	}
	if c.enc, err = keyA.context(); err != nil {
		return dstA, dstB, err
	}
	dstB, sdpB, err := ngc.offerAnswerSDP("offer", c.id, "A", "", audioSDP(c.a.local, keyA.attr()),
		ng.Entry{Key: []byte("transport-protocol"), Value: ng.Str("RTP/AVP")})
	if err != nil {
		return dstA, dstB, err
	}
	if hasCrypto(sdpB) {
		return dstA, dstB, fmt.Errorf("offer %s: %w: the plain side was offered keys", c.id, errCrypto)
	}
	dstA, sdpA, err := ngc.offerAnswerSDP("answer", c.id, "A", "B", audioSDP(c.b.local, ""))
	if err != nil {
		return dstA, dstB, err
	}
	keyRelay, err := cryptoKey(sdpA)
	if err != nil {
		return dstA, dstB, fmt.Errorf("answer %s: %w", c.id, err)
	}
	if c.decA, err = keyRelay.context(); err != nil {
		return dstA, dstB, err
	}
	return dstA, dstB, nil
}

// result is the key=value line plus the figures the exit code depends on.
type result struct {
	kv
	lossPct   float64
	misrouted uint64
}

func relay(ctx context.Context, o options, calls []call, relayPid, admin string) (*result, error) {
	nStreams := 2 * len(calls)
	rounds := int(o.duration.Seconds() * float64(o.pps))
	period := time.Second / time.Duration(o.pps)
	slots := max(1, int(period/time.Millisecond))
	tsStep := uint32(8000 / o.pps)

	snd := &sender{fds: make([]int, nStreams), pkts: make([][]byte, nStreams), sent: make([]uint64, nStreams),
		enc: make([]*srtp.Context, nStreams), timeWrites: o.sendCPU}
	streams := make([]*streamStats, nStreams)
	maxFD := 0
	for i, c := range calls {
		snd.fds[2*i], snd.fds[2*i+1] = c.a.fd, c.b.fd
		snd.enc[2*i] = c.enc
		maxFD = max(maxFD, c.a.fd, c.b.fd)
	}
	fdDec := make([]*srtp.Context, maxFD+1)
	for _, c := range calls {
		fdDec[c.a.fd], fdDec[c.b.fd] = c.decA, c.decB
	}
	fdStream := make([]int32, maxFD+1)
	for i := range fdStream {
		fdStream[i] = -1
	}
	for s := range nStreams {
		snd.pkts[s] = newPacket(uint32(s), o.payload, 0, 0x5000_0000+uint32(s))
		streams[s] = newStreamStats(rounds)
		fdStream[snd.fds[s^1]] = int32(s) // stream s arrives on the other socket of its call
	}

	rcv := make([]*receiver, 0, o.receivers)
	defer func() {
		for _, r := range rcv {
			r.close()
		}
	}()
	for range min(o.receivers, nStreams) {
		r, err := newReceiver()
		if err != nil {
			return nil, err
		}
		r.fdStream, r.streams, r.fdDec, r.poll = fdStream, streams, fdDec, o.poll
		rcv = append(rcv, r)
	}
	for s := range nStreams {
		if err := rcv[s%len(rcv)].add(snd.fds[s^1]); err != nil {
			return nil, err
		}
	}

	base := time.Now()
	start := base.Add(100 * time.Millisecond)
	deadline := start.Add(o.duration + o.grace + 10*time.Second) // hard bound of the receivers
	var stopRx atomic.Bool
	var wg sync.WaitGroup
	for _, r := range rcv {
		r.latencyFrom = int64(start.Add(o.warmup).Sub(base))
		wg.Go(func() { r.run(&stopRx, deadline, base) })
	}
	defer func() { stopRx.Store(true); wg.Wait() }()

	pid := "self"
	if relayPid != "" {
		pid = relayPid
	}
	var profErr error
	var profWG sync.WaitGroup
	if o.pprof != "" && admin != "" {
		secs := max(1, int(o.duration.Seconds())-1)
		profWG.Go(func() { profErr = fetchProfile(ctx, admin, secs, o.pprof) })
	}

	c0, err := readClocks(pid)
	if err != nil {
		return nil, err
	}
	// The in-kernel SRTP program's own run time over the window, from
	// the kernel's BPF statistics (on while the tool runs).
	var k0 map[string]float64
	if admin != "" && o.kernel != "off" {
		if st, err := ksrtp.EnableStats(); err == nil {
			defer st.Close()
			k0, _ = kernelFigures(ctx, admin)
		} else {
			fmt.Fprintln(os.Stderr, "rtpload: no BPF statistics:", err)
		}
	}
	snd.run(ctx, base, start, rounds, slots, period, tsStep)
	var k1 map[string]float64
	if k0 != nil {
		k1, _ = kernelFigures(ctx, admin)
	}
	window := time.Since(start)
	c1, err := readClocks(pid)
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(o.grace):
	case <-ctx.Done():
	}
	stopRx.Store(true)
	wg.Wait()
	profWG.Wait()
	if profErr != nil {
		fmt.Fprintln(os.Stderr, "rtpload: profile:", profErr)
	}

	t, err := summarize(snd.sent, streams)
	if err != nil {
		return nil, err
	}
	h, arr := new(histogram), new(histogram)
	var misrouted, malformed, readErrs, authFails, unstamped uint64
	for _, r := range rcv {
		h.merge(r.hist)
		arr.merge(r.arrival)
		unstamped += r.unstamped
		misrouted += r.misrouted
		malformed += r.malformed
		readErrs += r.readErrors
		authFails += r.authFailures
	}
	res := &result{lossPct: t.lossPercent(), misrouted: misrouted + authFails}
	mode := "relay"
	if o.direct {
		mode = "direct"
	}
	res.add("mode", "%s", mode)
	res.add("calls", "%d", len(calls))
	res.add("streams", "%d", nStreams)
	res.add("pps", "%d", o.pps)
	res.add("payload", "%d", o.payload)
	res.add("srtp", "%s", o.srtp)
	res.add("window_s", "%.2f", window.Seconds())
	res.add("sent", "%d", t.sent)
	res.add("received", "%d", t.received)
	res.add("relayed_pps", "%.0f", float64(t.received)/window.Seconds())
	res.add("lost", "%d", t.lost)
	res.add("loss_pct", "%.4f", res.lossPct)
	res.add("streams_with_loss", "%d", t.streamsWithLoss)
	res.add("worst_stream_lost", "%d", t.worstStreamLoss)
	res.add("reordered", "%d", t.reordered)
	res.add("duplicates", "%d", t.duplicates)
	res.add("misrouted", "%d", misrouted)
	res.add("malformed", "%d", malformed+t.outOfRange)
	res.add("srtp_auth_failures", "%d", authFails)
	res.add("send_errors", "%d", snd.errors)
	res.add("read_errors", "%d", readErrs)
	res.add("send_lag_max_ms", "%.1f", float64(snd.maxLag)/1e6)
	res.add("warmup_s", "%.1f", o.warmup.Seconds())
	res.add("latency_samples", "%d", h.n)
	res.add("latency_p50_us", "%d", h.quantile(0.50))
	res.add("latency_p99_us", "%d", h.quantile(0.99))
	res.add("latency_p999_us", "%d", h.quantile(0.999))
	res.add("latency_max_us", "%d", h.maxNs/1000)
	// To the datagram's arrival in the receiving socket (the kernel's
	// timestamp): what the path and the relay add, without the time the
	// tool's own receivers took to get to the packet.
	res.add("arrival_p50_us", "%d", arr.quantile(0.50))
	res.add("arrival_p99_us", "%d", arr.quantile(0.99))
	res.add("arrival_p999_us", "%d", arr.quantile(0.999))
	res.add("arrival_max_us", "%d", arr.maxNs/1000)
	res.add("unstamped", "%d", unstamped)
	c1.sub(c0).report(res, window, t, snd, relayPid != "")
	if admin != "" {
		if k, err := kernelFigures(ctx, admin); err == nil {
			res.add("kernel_streams", "%.0f", k["openborder_media_kernel_streams"])
			res.add("kernel_packets", "%.0f", k["openborder_media_kernel_packets_total"])
			res.add("kernel_failures", "%.0f", k["openborder_media_kernel_offload_failures_total"])
			res.add("kernel_srtp_streams", "%.0f", k["openborder_media_kernel_srtp_streams"])
		} else {
			fmt.Fprintln(os.Stderr, "rtpload: sbcd metrics:", err)
		}
	}
	if k0 != nil && k1 != nil {
		runs := k1["openborder_media_kernel_srtp_program_runs_total"] - k0["openborder_media_kernel_srtp_program_runs_total"]
		secs := k1["openborder_media_kernel_srtp_program_seconds_total"] - k0["openborder_media_kernel_srtp_program_seconds_total"]
		res.add("srtp_prog_runs", "%.0f", runs)
		if runs > 0 {
			res.add("srtp_prog_ns_per_run", "%.0f", 1e9*secs/runs)
		}
		if t.received > 0 {
			res.add("srtp_prog_us_per_pkt", "%.2f", 1e6*secs/float64(t.received))
		}
	}
	return res, nil
}
