//go:build linux

// Command turnload measures a TURN server's relay cost the way operators
// compare them: server CPU per relayed packet and loss, at a fixed load.
//
//	go run ./test/turnload -server sbcd -allocations 100 -pps 50 -duration 20s
//	go run ./test/turnload -server coturn -allocations 100 -pps 50 -duration 20s
//
// It starts the server on 127.0.0.1:23478 (sbcd built from ./cmd/sbcd
// unless -sbcd names a binary, with a TURN-only policy; or coturn's
// turnserver with the same credentials, relay range and loopback peers
// allowed), opens -allocations pion TURN clients (user bench), gives each
// a permission for its own peer socket on 127.0.0.1, and for -duration
// sends -pps packets of -size bytes per second through every allocation
// to its peer (Send indications, as a browser's first packets). It prints
// one key=value line: packets sent and received, loss, the server's CPU
// time (utime+stime from /proc/<pid>/stat over the measured window) and
// the server CPU per relayed packet. Every loop is bounded by -duration;
// only 127.0.0.1 is a target.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/logging"
	pturn "github.com/pion/turn/v5"
)

const (
	addr  = "127.0.0.1:23478"
	user  = "bench"
	pass  = "bench-password"
	realm = "openborder"
)

func main() {
	server := flag.String("server", "sbcd", "sbcd or coturn")
	bin := flag.String("sbcd", "", "sbcd binary (default: build ./cmd/sbcd)")
	allocs := flag.Int("allocations", 100, "TURN allocations (one client each)")
	pps := flag.Int("pps", 50, "packets per second per allocation")
	size := flag.Int("size", 172, "packet size in bytes (G.711 RTP, 20 ms: 172)")
	dur := flag.Duration("duration", 20*time.Second, "measured window")
	flag.Parse()
	if err := run(*server, *bin, *allocs, *pps, *size, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "turnload:", err)
		os.Exit(1)
	}
}

func run(server, bin string, allocs, pps, size int, dur time.Duration) error {
	if allocs < 1 || allocs > 2000 || pps < 1 || pps > 500 || size < 20 || size > 1400 || dur <= 0 || dur > 10*time.Minute {
		return errors.New("allocations 1-2000, pps 1-500, size 20-1400, duration up to 10m")
	}
	dir, err := os.MkdirTemp("", "turnload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd, err := start(server, bin, dir)
	if err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	time.Sleep(700 * time.Millisecond)

	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	var received atomic.Uint64
	relays := make([]net.PacketConn, allocs)
	peers := make([]*net.UDPConn, allocs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range allocs {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer conn.Close()
		c, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
			Username: user, Password: pass, Realm: realm, LoggerFactory: lf})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			return err
		}
		if relays[i], err = c.Allocate(); err != nil {
			return fmt.Errorf("allocation %d: %w", i, err)
		}
		defer relays[i].Close()
		if peers[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		defer peers[i].Close()
		p := peers[i]
		wg.Go(func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := p.ReadFrom(buf); err != nil {
					return
				}
				received.Add(1)
			}
		})
		// The first packet creates the permission.
		if _, err := relays[i].WriteTo(make([]byte, size), p.LocalAddr()); err != nil {
			return fmt.Errorf("permission %d: %w", i, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	received.Store(0)
	cpu0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	pkt := make([]byte, size)
	var sent uint64
	interval := time.Second / time.Duration(pps)
	start := time.Now()
	tick := time.NewTicker(interval)
	for time.Since(start) < dur {
		<-tick.C
		for i := range allocs {
			if _, err := relays[i].WriteTo(pkt, peers[i].LocalAddr()); err == nil {
				sent++
			}
		}
	}
	tick.Stop()
	time.Sleep(300 * time.Millisecond)
	cpu1, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	got := received.Load()
	cpu := cpu1 - cpu0
	loss := 0.0
	if sent > 0 {
		loss = 100 * float64(int64(sent)-int64(got)) / float64(sent)
	}
	perPkt := 0.0
	if got > 0 {
		perPkt = float64(cpu.Microseconds()) / float64(got)
	}
	fmt.Printf("server=%s allocations=%d pps=%d size=%d duration=%s sent=%d received=%d loss_pct=%.3f server_cpu_s=%.2f server_cpu_pct=%.1f us_per_packet=%.2f\n",
		server, allocs, pps, size, dur, sent, got, loss, cpu.Seconds(), 100*cpu.Seconds()/time.Since(start).Seconds(), perPkt)
	return nil
}

// start runs the TURN server under test.
func start(server, bin, dir string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	switch server {
	case "sbcd":
		if bin == "" {
			bin = filepath.Join(dir, "sbcd")
			b := exec.Command("go", "build", "-o", bin, "./cmd/sbcd")
			b.Stderr = os.Stderr
			if err := b.Run(); err != nil {
				return nil, fmt.Errorf("build sbcd: %w", err)
			}
		}
		cfg := filepath.Join(dir, "sbcd.yaml")
		policy := fmt.Sprintf(`log: {level: warn}
realms:
  - name: access
    listeners: [{transport: udp, address: 127.0.0.1:25060}]
    media: {port_min: 26000, port_max: 26999}
turn:
  listeners: [{transport: udp, address: %s}]
  relay_port_min: 41000
  relay_port_max: 44999
  users: [{name: %s, password: %s}]
  user_quota: 5000
  allow_peers: [127.0.0.0/8]
`, addr, user, pass)
		if err := os.WriteFile(cfg, []byte(policy), 0o600); err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "-config", cfg)
	case "coturn":
		path, err := exec.LookPath("turnserver")
		if err != nil {
			return nil, fmt.Errorf("coturn (Debian package coturn): %w", err)
		}
		host, port, _ := strings.Cut(addr, ":")
		cmd = exec.Command(path, "-n", "--listening-ip="+host, "--listening-port="+port, "--relay-ip="+host,
			"--min-port=41000", "--max-port=44999", "--lt-cred-mech", "--user="+user+":"+pass, "--realm="+realm,
			"--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp", "--log-file=stdout",
			"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--user-quota=5000", "--total-quota=5000")
	default:
		return nil, fmt.Errorf("server %q: want sbcd or coturn", server)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// procCPU is a process's utime+stime.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseUint(f[11], 10, 63)
	st, _ := strconv.ParseUint(f[12], 10, 63)
	return time.Duration(ut+st) * time.Second / 100, nil
}
