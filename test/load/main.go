package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openborder/openborder/test/e2e"

	"github.com/openborder/openborder/test/procstat"
)

type options struct {
	mode       string
	sbcd       string
	sipp       string
	net        int
	rate       float64
	duration   time.Duration
	callLength time.Duration
	calls      int
	hold       time.Duration
	dir        string
	nodes      int
	cdr        bool
	profile    string
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "cps", "cps: calls per second for -duration; hold: keep -calls calls up and measure memory")
	flag.StringVar(&o.sbcd, "sbcd", "", "sbcd binary (default: go build ./cmd/sbcd into a temp dir)")
	flag.StringVar(&o.sipp, "sipp", "sipp", "sipp binary")
	flag.IntVar(&o.net, "net", 250, "loopback network 127.<net>.0.0/16 to use")
	flag.Float64Var(&o.rate, "rate", 50, "new calls per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "cps: how long to place calls")
	flag.DurationVar(&o.callLength, "call-length", time.Second, "cps: length of each call")
	flag.IntVar(&o.calls, "calls", 500, "hold: concurrent calls to hold")
	flag.DurationVar(&o.hold, "hold", 20*time.Second, "hold: how long each call stays up")
	flag.StringVar(&o.dir, "dir", "", "where configs and sipp traces go (default: a temp dir, removed after)")
	flag.IntVar(&o.nodes, "media-nodes", 0, "anchor media on this many sbcd -media-only nodes instead of in-process (memory is summed over all processes)")
	flag.BoolVar(&o.cdr, "cdr", false, "write CDRs (CSV and JSON lines) in -dir while loading")
	flag.StringVar(&o.profile, "profile", "", "hold: save sbcd's heap and goroutine profiles (heap.pprof, goroutines.txt) taken with the calls up in this directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.mode != "cps" && o.mode != "hold" {
		return fmt.Errorf("unknown -mode %q (cps or hold)", o.mode)
	}
	if o.rate <= 0 || o.calls <= 0 || o.duration <= 0 {
		return errors.New("-rate, -calls and -duration must be positive")
	}
	sippBin, err := exec.LookPath(o.sipp)
	if err != nil {
		return fmt.Errorf("sipp: %w", err)
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "sbcd-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	if o.sbcd == "" {
		o.sbcd = filepath.Join(o.dir, "sbcd")
		b := exec.Command("go", "build", "-o", o.sbcd, "./cmd/sbcd")
		b.Dir = filepath.Join(e2e.SippDir(), "..", "..")
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/sbcd: %w\n%s", err, out)
		}
	}
	topo := e2e.Topology{Net: o.net}
	cfg := filepath.Join(o.dir, "bench.yaml")
	bc := e2e.BenchConfig(topo)
	if o.profile != "" {
		bc.Admin.Address = fmt.Sprintf("%s:%d", topo.AccessIP(), adminPort)
	}
	if o.cdr {
		bc.CDR.Dir = filepath.Join(o.dir, "cdr")
		bc.CDR.Formats = []string{"csv", "jsonl"}
	}
	nodes, err := startNodes(o, topo, bc)
	defer func() {
		for _, n := range nodes {
			n.Kill()
		}
	}()
	if err != nil {
		return err
	}
	if err := e2e.WriteConfig(cfg, bc); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sbcd, err := e2e.StartSbcdCmd(o.sbcd, cfg, "-log-level", "info")
	if err != nil {
		return err
	}
	defer sbcd.Kill()
	if _, err := sbcd.WaitMsg("sbcd ready", 10*time.Second); err != nil {
		return fmt.Errorf("%w\n%s", err, sbcd.Dump(50))
	}
	pid := sbcd.Pid()

	total, length, limit := int(o.rate*o.duration.Seconds()), o.callLength, 0
	if o.mode == "hold" {
		total, length, limit = o.calls, o.hold, o.calls
	}
	budget := o.duration + length + 60*time.Second
	if o.mode == "hold" {
		budget = time.Duration(float64(total)/o.rate*float64(time.Second)) + length + 60*time.Second
	}
	uas := e2e.SippOpts{Name: "uas", Scenario: "uas_basic.xml", LocalIP: topo.GatewayIP(0),
		LocalPort: e2e.GatewayPort, MediaPort: e2e.CalleeMediaPort, Calls: total,
		Timeout: budget, Dir: o.dir, NoMessageTrace: true}
	uac := e2e.SippOpts{Name: "uac", Scenario: "uac_load.xml", LocalIP: topo.CallerIP(0),
		LocalPort: e2e.CallerPort, Remote: topo.AccessSIP(), Calls: total, Rate: o.rate,
		Limit: limit, Duration: length, Timeout: budget, Dir: o.dir, NoMessageTrace: true}

	uasCmd := uas.Command(ctx, sippBin)
	if err := uasCmd.Start(); err != nil {
		return fmt.Errorf("start uas: %w", err)
	}
	defer func() { _ = uasCmd.Process.Kill(); _ = uasCmd.Wait() }()
	time.Sleep(300 * time.Millisecond)

	cpu0, err := procstat.ProcessCPU(pid)
	if err != nil {
		return err
	}
	pids := []int{pid}
	for _, n := range nodes {
		pids = append(pids, n.Pid())
	}
	base := make([]int64, len(pids))
	for i, p := range pids {
		base[i], _, _ = memory(p)
	}
	rss0, err := totalRSS(pids)
	if err != nil {
		return err
	}
	stopFDs, fds := make(chan struct{}), make(chan int, 1)
	go fdPeak(pid, 250*time.Millisecond, stopFDs, fds)
	start := time.Now()
	uacCmd := uac.Command(ctx, sippBin)
	if err := uacCmd.Start(); err != nil {
		return fmt.Errorf("start uac: %w", err)
	}
	uacDone := make(chan error, 1)
	go func() { uacDone <- uacCmd.Wait() }()

	if o.mode == "hold" {
		// all calls placed and answered: sample memory while they are up
		ramp := time.Duration(float64(total)/o.rate*float64(time.Second)) + 2*time.Second
		if ramp >= length {
			return fmt.Errorf("-hold %v is shorter than the ramp-up %v: raise -hold or -rate", length, ramp)
		}
		select {
		case <-time.After(ramp):
		case err := <-uacDone:
			return fmt.Errorf("uac ended during ramp-up: %v", err)
		}
		rss, err := totalRSS(pids)
		if err != nil {
			return err
		}
		active := len(sbcd.Find(func(l e2e.LogLine) bool { return l.Msg() == "call ended" }))
		fmt.Printf("mode=hold calls=%d processes=%d rss_base_kib=%d rss_held_kib=%d bytes_per_call=%d ended_before_sample=%d\n",
			total, len(pids), rss0, rss, (rss-rss0)*1024/int64(total), active)
		for i, p := range pids {
			r, _, err := memory(p)
			if err == nil {
				fmt.Printf("  process=%d rss_base_kib=%d rss_kib=%d bytes_per_call=%d\n", i, base[i], r, (r-base[i])*1024/int64(total))
			}
		}
		if o.profile != "" {
			if err := saveProfiles(ctx, bc.Admin.Address, o.profile); err != nil {
				fmt.Fprintln(os.Stderr, "load: profiles:", err)
			}
		}
	}
	uacErr := <-uacDone
	elapsed := time.Since(start)
	close(stopFDs)
	peakFDs := <-fds
	cpu1, err := procstat.ProcessCPU(pid)
	if err != nil {
		return err
	}
	rss, hwm, err := memory(pid)
	if err != nil {
		return err
	}
	_, _, statFile := uac.Files()
	data, err := os.ReadFile(statFile)
	if err != nil {
		return fmt.Errorf("uac statistics: %w (uac: %v)", err, uacErr)
	}
	rows, err := e2e.ParseStats(data)
	if err != nil {
		return err
	}
	last := rows[len(rows)-1]
	ok, err1 := last.Int("SuccessfulCall(C)")
	failed, err2 := last.Int("FailedCall(C)")
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	cpu := cpu1 - cpu0
	perCall := time.Duration(0)
	if ok+failed > 0 {
		perCall = cpu / time.Duration(ok+failed)
	}
	fmt.Printf("mode=%s rate=%g calls=%d successful=%d failed=%d elapsed_s=%.1f sbcd_cpu_s=%.2f sbcd_cpu_pct=%.1f cpu_per_call_us=%d rss_kib=%d rss_peak_kib=%d open_files_peak=%d\n",
		o.mode, o.rate, total, ok, failed, elapsed.Seconds(), cpu.Seconds(),
		100*cpu.Seconds()/elapsed.Seconds(), perCall.Microseconds(), rss, hwm, peakFDs)
	if failed > 0 || uacErr != nil {
		reportFailures(os.Stderr, uac, sbcd)
		return fmt.Errorf("%d calls failed (uac: %v)", failed, uacErr)
	}
	return nil
}

// reportFailures prints what tells why calls failed: the start of sipp's
// error file, and sbcd's warnings, errors and calls that did not end with
// a BYE.
func reportFailures(w io.Writer, uac e2e.SippOpts, sbcd *e2e.Sbcd) {
	const maxLines = 40
	_, errFile, _ := uac.Files()
	if data, err := os.ReadFile(errFile); err == nil && len(data) > 0 {
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(w, "load: sipp uac errors (%d lines, first %d):\n", len(lines), min(len(lines), maxLines))
		for _, l := range lines[:min(len(lines), maxLines)] {
			fmt.Fprintln(w, "  "+l)
		}
	}
	bad := sbcd.Find(func(l e2e.LogLine) bool {
		if l.Str("level") == "WARN" || l.Str("level") == "ERROR" {
			return true
		}
		c := l.Str("cause")
		return l.Msg() == "call ended" && c != "caller_bye" && c != "callee_bye"
	})
	fmt.Fprintf(w, "load: sbcd warnings, errors and abnormal call ends: %d (first %d)\n", len(bad), min(len(bad), maxLines))
	for _, l := range bad[:min(len(bad), maxLines)] {
		j, _ := json.Marshal(l)
		fmt.Fprintln(w, "  "+string(j))
	}
}
