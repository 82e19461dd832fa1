//go:build linux && cgo

// Command xcodeload measures how many Opus <-> PCMU transcoded calls the
// media engine sustains. It runs the engine in its own process on
// loopback and the load generator in a child process (so that the
// generator's goroutines neither compete with the engine's in one Go
// scheduler nor count in its CPU). -calls calls are set up whose A leg
// offers only Opus and whose B leg takes only PCMU; for -duration both
// legs send 20 ms packets (pre-encoded Opus from A, PCMU from B: the
// generator does no codec work).
//
// It reports per direction the frames sent and received (loss); per frame
// the latency from the time it was due to the kernel receive time of its
// transcoded counterpart (p50/p99 as histogram bucket bounds; above 20 ms,
// one frame, counts as late; more than 0.1% late frames or any loss fails
// the run), the same from the time it was actually sent (path), and how
// far the generator's sends lagged their schedule; the engine's own
// processing time and frame overruns (kernel receive to transcoded send),
// its worker queue drops and waits; the CPU of the relay, of the generator
// and of everything else on the machine over the send window; the late
// frames by the second they were due in.
//
// -ramp starts the calls' media one after another over that time, as
// calls arrive at a real border, instead of all 250 within one 20 ms
// frame. -peer-poll makes the generator's receivers collect what arrived
// on a timer, as a NIC coalesces interrupts, instead of being woken by
// every packet: on loopback the wake-up of the receiving thread is paid
// by the engine's send, and the generator's 25,000 wake-ups a second
// compete with the engine for the same two cores.
//
//	go run ./test/xcodeload -calls 250 -duration 30s [-ramp 5s] [-peer-poll 1ms] [-complexity C -bitrate B -voip] [-cpuprofile FILE]
//
// With -ng ADDR the calls are set up over that ng control socket instead,
// on an external relay such as Sipwise rtpengine (see ng.go), with the same
// generator and traffic; -relay-pid names its process for its CPU time.
//
// Only 127.50.0.1 and 127.51.0.1 (and the ng socket, on loopback) are used.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/rtpengine"

	"github.com/openborder/openborder/test/procstat"
)

var (
	aIP = netip.MustParseAddr("127.50.0.1")
	bIP = netip.MustParseAddr("127.51.0.1")
)

// peerPoll, above 0, makes the generator's receivers sleep this long
// between collections instead of waiting in epoll for each packet, as a
// NIC coalesces interrupts: a sleeping receiver is not woken, so the
// relay's sends stop paying for the generator's wake-ups, which on
// loopback are charged to the sender.
var peerPoll time.Duration

// cpuProfile names the file for the engine's CPU profile ("" for none).
var cpuProfile string

func main() {
	calls := flag.Int("calls", 250, "concurrent transcoded calls")
	duration := flag.Duration("duration", 20*time.Second, "how long each call sends")
	ramp := flag.Duration("ramp", 0, "start the calls' media one after another over this time (e.g. 5s: 50 calls a second at 250 calls) instead of all in the first 20 ms; the send window is duration+ramp")
	complexity := flag.Int("complexity", 0, "Opus encoder complexity (0: engine default, -1: complexity 0)")
	nice := flag.Int("nice", 0, "run the transcoding workers on OS threads this much lower in priority (0: off)")
	voip := flag.Bool("voip", false, "Opus encoders as libopus application VoIP (SILK) instead of the engine's default, restricted low delay (CELT)")
	bitrate := flag.Int("bitrate", 0, "Opus encoder bitrate, bit/s (0: engine default)")
	workers := flag.Int("workers", 0, "transcoding worker goroutines (0: the engine's default for the relay, -1: inline)")
	relay := flag.String("relay", "", "media relay: epoll or goroutine (default: the engine's)")
	ngAddr := flag.String("ng", "", "set the calls up over this ng control socket (loopback, e.g. Sipwise rtpengine's) instead of the built-in engine")
	relayPID := flag.Int("relay-pid", 0, "with -ng: the relay's process id, for its CPU time")
	flag.DurationVar(&peerPoll, "peer-poll", 0, "the generator's receivers collect what arrived this often instead of being woken by each packet (0: woken)")
	fullband := flag.Bool("peer-fullband", false, "the generator's Opus encoder codes full band whatever maxplaybackrate the relay's answer gives (by default it keeps to it, as WebRTC endpoints do)")
	peer := flag.Bool("peer", false, "run as the load generator (started by xcodeload itself)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the engine's CPU profile over the send window to this file")
	flag.Parse()
	var err error
	switch {
	case *peer:
		err = runPeer(*calls, *duration, *ramp, os.Stdin, os.Stdout)
	case *ngAddr != "":
		var ap netip.AddrPort
		if ap, err = netip.ParseAddrPort(*ngAddr); err == nil {
			err = run(options{calls: *calls, duration: *duration, ramp: *ramp, ng: ap, relayPID: *relayPID, peerFullband: *fullband})
		}
	default:
		err = run(options{calls: *calls, duration: *duration, ramp: *ramp, complexity: *complexity, bitrate: *bitrate, voip: *voip, workers: *workers, nice: *nice,
			relay: rtpengine.RelayMode(*relay), peerFullband: *fullband})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcodeload:", err)
		os.Exit(1)
	}
}

func sdp(port int, addr netip.Addr, fmts string, attrs ...string) []byte {
	l := []string{"v=0", "o=- 1 1 IN IP4 " + addr.String(), "s=-", "c=IN IP4 " + addr.String(), "t=0 0",
		"m=audio " + strconv.Itoa(port) + " RTP/AVP " + fmts}
	l = append(l, attrs...)
	l = append(l, "a=rtcp-mux", "a=sendrecv")
	return []byte(strings.Join(l, "\r\n") + "\r\n")
}

// maxPlayback is the maxplaybackrate (RFC 7587) an SDP's fmtp gives
// payload type pt, 48000 when it gives none.
func maxPlayback(b []byte, pt string) int {
	for _, l := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=fmtp:"+pt+" ")
		if !ok {
			continue
		}
		for _, p := range strings.Split(v, ";") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(p), "maxplaybackrate="); ok {
				if n, err := strconv.Atoi(r); err == nil && n > 0 {
					return n
				}
			}
		}
	}
	return 48000
}

// opusBandwidth is the audio bandwidth an Opus encoder keeps to for a
// receiver's maxplaybackrate, as WebRTC endpoints map it: narrowband up
// to 8 kHz playback, then medium, wide, super-wide and full band.
func opusBandwidth(playback int) int {
	switch {
	case playback <= 8000:
		return 4000
	case playback <= 12000:
		return 6000
	case playback <= 16000:
		return 8000
	case playback <= 24000:
		return 12000
	}
	return 20000
}

// mport returns the port of an SDP's first m= line (0 if none).
func mport(b []byte) int {
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[0], "m=") {
			p, _ := strconv.Atoi(f[1])
			return p
		}
	}
	return 0
}

// mconn returns the last c= address of an SDP (the media-level one when
// there is one).
func mconn(b []byte) string {
	addr := ""
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "c=")); strings.HasPrefix(l, "c=") && len(f) == 3 {
			addr = f[2]
		}
	}
	return addr
}

// ints parses a line of space-separated integers after a keyword.
func ints(line, key string, n int) ([]int, error) {
	f := strings.Fields(line)
	if len(f) != n+1 || f[0] != key {
		return nil, fmt.Errorf("want %q and %d numbers, got %.80q", key, n, line)
	}
	out := make([]int, n)
	for i := range out {
		v, err := strconv.Atoi(f[i+1])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// options are the engine side's settings.
type options struct {
	calls      int
	duration   time.Duration
	ramp       time.Duration
	complexity int
	bitrate    int
	voip       bool
	nice       int
	workers    int
	relay      rtpengine.RelayMode
	// ng, when valid, is the ng control socket of an external relay
	// (Sipwise rtpengine) to set the calls up on instead of the built-in
	// engine; relayPID is that relay's process for its CPU time.
	ng netip.AddrPort
	// peerFullband makes the generator's Opus encoder ignore the
	// maxplaybackrate of the relay's answer.
	peerFullband bool
	relayPID     int
}

// relayUnderTest sets calls up on the relay measured.
type relayUnderTest interface {
	// setup sets call i up between the peer's ports a (Opus) and b (PCMU)
	// and returns the relay's ports the A and the B leg send to, and the
	// SDP the relay answered the A leg with.
	setup(ctx context.Context, i, a, b int) (sbcA, sbcB int, answerA []byte, err error)
	// cpu is the relay process's CPU time so far.
	cpu() (time.Duration, error)
	// report is what the relay itself measured over the run; dropped
	// the packets it counted as dropped (0 when it does not say).
	report() string
	dropped() uint64
	teardown(ctx context.Context, i int)
	close()
}

// run is the control side: it starts the peer process, sets up the calls
// between the peer's sockets and measures the relay's CPU while they run.
func run(o options) error {
	var r relayUnderTest
	var err error
	if o.ng.IsValid() {
		r, err = newNGRelay(o)
	} else {
		r, err = newEngineRelay(o)
	}
	if err != nil {
		return err
	}
	defer r.close()
	calls := o.calls
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-peer", "-calls", strconv.Itoa(calls), "-duration", o.duration.String(), "-ramp", o.ramp.String(), "-peer-poll", peerPoll.String())
	cmd.Stderr = os.Stderr
	toPeer, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	fromPeer, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	rd := bufio.NewReader(fromPeer)
	line, err := rd.ReadString('\n')
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	ports, err := ints(line, "ports", 2*calls)
	if err != nil {
		return err
	}
	ctx := context.Background()
	sbc := make([]string, 0, 2*calls)
	playback := 0 // the widest maxplaybackrate any answer allows the A leg's encoder
	for i := range calls {
		sa, sb, answer, err := r.setup(ctx, i, ports[2*i], ports[2*i+1])
		if err != nil {
			return err
		}
		sbc = append(sbc, strconv.Itoa(sa), strconv.Itoa(sb))
		playback = max(playback, maxPlayback(answer, "111"))
	}
	if o.peerFullband {
		playback = 48000
	}
	defer func() {
		for i := range calls {
			r.teardown(ctx, i)
		}
	}()
	if _, err := fmt.Fprintf(toPeer, "maxplaybackrate %d\nsbc %s\n", playback, strings.Join(sbc, " ")); err != nil {
		return err
	}
	if line, err = rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "start" {
		return fmt.Errorf("peer did not start: %q %v", line, err)
	}
	stopProfile, err := startProfile(cpuProfile)
	if err != nil {
		return err
	}
	c0, err := r.cpu()
	if err != nil {
		stopProfile()
		return err
	}
	p0, err := procstat.ProcessCPU(cmd.Process.Pid)
	if err != nil {
		stopProfile()
		return err
	}
	m0, s0, err := procstat.MachineCPU()
	if err != nil {
		stopProfile()
		return err
	}
	t0 := time.Now()
	stolen := watchSteal(t0)
	if line, err = rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "stop" {
		stopProfile()
		return fmt.Errorf("peer did not finish: %q %v", line, err)
	}
	wall := time.Since(t0)
	stealBySecond := stolen()
	c1, err := r.cpu()
	if err != nil {
		stopProfile()
		return err
	}
	p1, err := procstat.ProcessCPU(cmd.Process.Pid)
	stopProfile()
	if err != nil {
		return err
	}
	m1, s1, err := procstat.MachineCPU()
	if err != nil {
		return err
	}
	result, err := rd.ReadString('\n')
	if err != nil {
		return fmt.Errorf("peer result: %w", err)
	}
	// Every call sends duration/20ms frames each way, within the window
	// (duration plus the ramp).
	frames := float64(calls) * float64(o.duration/(20*time.Millisecond))
	// other_cpu: the machine's busy time that is neither the relay's nor
	// the peer's (other processes, kernel threads such as ksoftirqd).
	pct := func(d time.Duration) float64 { return 100 * float64(d) / float64(wall) }
	fmt.Printf("calls=%d peer_opus_bandwidth_hz=%d %s relay_cpu=%.1f%% relay_cpu_per_call_frame=%.1fus peer_cpu=%.1f%% machine_busy=%.1f%% other_cpu=%.1f%% steal_ms=%d steal_by_second=%s %s\n",
		calls, opusBandwidth(playback), strings.TrimSpace(result), pct(c1-c0), float64((c1-c0).Microseconds())/frames, pct(p1-p0),
		pct(m1-m0), pct(max(0, (m1-m0)-(c1-c0)-(p1-p0))), (s1 - s0).Milliseconds(), stealBySecond, r.report())
	if strings.Contains(result, "FAIL") || r.dropped() > 0 {
		return fmt.Errorf("loss, late frames or drops")
	}
	return nil
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}
