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
// It reports per direction the frames sent and received (loss), the
// latency from sending a frame to receiving its transcoded counterpart
// (p50/p99/max as histogram bucket bounds; above 20 ms, one frame, counts
// as late; more than 0.1% late frames or any loss fails the run), the engine's worker queue drops and waits (with a pool), and
// the engine process's CPU over the send window.
//
//	go run ./test/xcodeload -calls 250 -duration 20s [-cpuprofile FILE]
//
// Only 127.50.0.1 and 127.51.0.1 are used (loopback).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openborder/openborder/rtpengine"
)

var (
	aIP = netip.MustParseAddr("127.50.0.1")
	bIP = netip.MustParseAddr("127.51.0.1")
)

// cpuProfile names the file for the engine's CPU profile ("" for none).
var cpuProfile string

func main() {
	calls := flag.Int("calls", 250, "concurrent transcoded calls")
	duration := flag.Duration("duration", 20*time.Second, "send window")
	complexity := flag.Int("complexity", 0, "Opus encoder complexity (0: engine default)")
	workers := flag.Int("workers", 0, "transcoding worker goroutines (0: the engine's default for the relay, -1: inline)")
	relay := flag.String("relay", "", "media relay: epoll or goroutine (default: the engine's)")
	peer := flag.Bool("peer", false, "run as the load generator (started by xcodeload itself)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the engine's CPU profile over the send window to this file")
	flag.Parse()
	var err error
	if *peer {
		err = runPeer(*calls, *duration, os.Stdin, os.Stdout)
	} else {
		err = run(*calls, *duration, *complexity, *workers, rtpengine.RelayMode(*relay))
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

func mport(b []byte) int {
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "m=") {
			p, _ := strconv.Atoi(strings.Fields(l)[1])
			return p
		}
	}
	return 0
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// run is the engine side: it starts the peer process, sets up the calls
// between the peer's sockets and measures its own CPU while they run.
func run(calls int, duration time.Duration, complexity, workers int, relay rtpengine.RelayMode) error {
	e, err := rtpengine.New(rtpengine.Config{
		Interfaces: []rtpengine.InterfaceConfig{
			{Name: "access", Addr: aIP, PortMin: 30000, PortMax: 30000 + 4*calls + 20},
			{Name: "core", Addr: bIP, PortMin: 40000, PortMax: 40000 + 4*calls + 20},
		},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Relay:     relay,
		Transcode: rtpengine.TranscodeConfig{OpusComplexity: complexity, Workers: workers, QueueLen: 4096},
	})
	if err != nil {
		return err
	}
	defer e.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-peer", "-calls", strconv.Itoa(calls), "-duration", duration.String())
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
	for i := range calls {
		id := "load-" + strconv.Itoa(i)
		offer, err := e.Offer(ctx, rtpengine.OfferRequest{CallID: id, FromTag: "A",
			SDP:   sdp(ports[2*i], aIP, "111", "a=rtpmap:111 opus/48000/2"),
			Flags: rtpengine.Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}})
		if err != nil {
			return fmt.Errorf("offer %d: %w", i, err)
		}
		answer, err := e.Answer(ctx, rtpengine.AnswerRequest{CallID: id, FromTag: "A", ToTag: "B",
			SDP: sdp(ports[2*i+1], bIP, "0")})
		if err != nil {
			return fmt.Errorf("answer %d: %w", i, err)
		}
		sbc = append(sbc, strconv.Itoa(mport(answer)), strconv.Itoa(mport(offer)))
	}
	if _, err := fmt.Fprintf(toPeer, "sbc %s\n", strings.Join(sbc, " ")); err != nil {
		return err
	}
	if line, err = rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "start" {
		return fmt.Errorf("peer did not start: %q %v", line, err)
	}
	stopProfile, err := startProfile(cpuProfile)
	if err != nil {
		return err
	}
	c0, t0 := cpu(), time.Now()
	if line, err = rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "stop" {
		stopProfile()
		return fmt.Errorf("peer did not finish: %q %v", line, err)
	}
	c1, wall := cpu(), time.Since(t0)
	stopProfile()
	result, err := rd.ReadString('\n')
	if err != nil {
		return fmt.Errorf("peer result: %w", err)
	}
	st := e.TranscodeStats()
	pct := func(q float64) string { // upper bound of the bucket holding quantile q
		var total, acc uint64
		for _, n := range st.QueueDelay {
			total += n
		}
		for i, n := range st.QueueDelay {
			acc += n
			if total > 0 && float64(acc) >= q*float64(total) {
				return (time.Duration(1<<i) * time.Microsecond).String()
			}
		}
		return "-"
	}
	frames := float64(calls) * float64(wall) / float64(20*time.Millisecond)
	fmt.Printf("calls=%d relay=%s workers=%d %s engine_cpu=%.1f%% engine_cpu_per_call_frame=%.1fus "+
		"queue_dropped=%d queue_wait_p50<%s p99<%s max=%v queue_overruns=%d\n",
		calls, orDefault(string(relay)), workers, strings.TrimSpace(result), 100*float64(c1-c0)/float64(wall),
		float64((c1-c0).Microseconds())/frames, st.Dropped, pct(0.5), pct(0.99),
		st.MaxQueueDelay.Round(10*time.Microsecond), st.Overruns)
	for i := range calls {
		_, _ = e.Delete("load-"+strconv.Itoa(i), "")
	}
	if strings.Contains(result, "FAIL") || st.Dropped > 0 {
		return fmt.Errorf("loss, late frames or drops")
	}
	return nil
}

// startProfile starts a CPU profile into path and returns its stop
// function; with an empty path it does nothing.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}
