//go:build linux

// Command turnload measures TURN servers' relay cost the way operators
// compare them: relayed packets per second, loss and server CPU per
// relayed packet, at a fixed load, sbcd's embedded TURN server and coturn
// side by side in one run.
//
//	go run ./test/turnload -allocations 200 -pps 50 -duration 20s -rounds 3 [-server both|sbcd|coturn] [-sbcd BIN]
//
// It starts the servers on distinct ports of 127.0.0.1 (sbcd on 23478,
// built from ./cmd/sbcd unless -sbcd names a binary, with a TURN-only
// policy, relays on 41000-42999; coturn's turnserver on 23479 with the
// same credentials, relays on 43000-44999, loopback peers allowed) and
// keeps both running. Each round drives one server after the other with
// the same load: -allocations pion TURN clients (user bench), each with a
// permission for its own peer socket on 127.0.0.1, sending -pps packets of
// -size bytes per second for -duration through its relay to its peer
// (Send indications, as a browser's first packets). It prints one
// key=value line per server and round (packets sent and received, loss,
// relayed packets per second, the server's CPU time from /proc/<pid>/stat
// over the window and per relayed packet) and then one median line per
// server. Every loop is bounded by -rounds and -duration; only 127.0.0.1
// is a target.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/logging"
	pturn "github.com/pion/turn/v5"

	"github.com/openborder/openborder/test/procstat"
)

const (
	sbcdAddr   = "127.0.0.1:23478"
	coturnAddr = "127.0.0.1:23479"
	user       = "bench"
	pass       = "bench-password"
	realm      = "openborder"
)

func main() {
	server := flag.String("server", "both", "both, sbcd or coturn")
	bin := flag.String("sbcd", "", "sbcd binary (default: build ./cmd/sbcd)")
	allocs := flag.Int("allocations", 100, "TURN allocations (one client each)")
	pps := flag.Int("pps", 50, "packets per second per allocation")
	size := flag.Int("size", 172, "packet size in bytes (G.711 RTP, 20 ms: 172)")
	dur := flag.Duration("duration", 20*time.Second, "measured window")
	rounds := flag.Int("rounds", 3, "rounds; each drives every server once, alternating")
	flag.Parse()
	if err := run(*server, *bin, *allocs, *pps, *size, *dur, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "turnload:", err)
		os.Exit(1)
	}
}

// result is one measurement of one server.
type result struct {
	sent, received uint64
	window, cpu    time.Duration
}

func (r result) loss() float64 {
	if r.sent == 0 || r.received >= r.sent {
		return 0
	}
	return 100 * float64(r.sent-r.received) / float64(r.sent)
}

func (r result) pps() float64 { return float64(r.received) / r.window.Seconds() }

func (r result) cpuPct() float64 { return 100 * r.cpu.Seconds() / r.window.Seconds() }

func (r result) usPerPacket() float64 {
	if r.received == 0 {
		return 0
	}
	return float64(r.cpu.Nanoseconds()) / 1000 / float64(r.received)
}

func run(server, bin string, allocs, pps, size int, dur time.Duration, rounds int) error {
	if allocs < 1 || allocs > 2000 || pps < 1 || pps > 500 || size < 20 || size > 1400 || dur <= 0 || dur > 10*time.Minute ||
		rounds < 1 || rounds > 10 {
		return errors.New("allocations 1-2000, pps 1-500, size 20-1400, duration up to 10m, rounds 1-10")
	}
	var names []string
	switch server {
	case "both":
		names = []string{"sbcd", "coturn"}
	case "sbcd", "coturn":
		names = []string{server}
	default:
		return fmt.Errorf("server %q: want both, sbcd or coturn", server)
	}
	dir, err := os.MkdirTemp("", "turnload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmds := map[string]*exec.Cmd{}
	for _, name := range names {
		cmd, err := start(name, bin, dir)
		if err != nil {
			return err
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
		cmds[name] = cmd
	}
	time.Sleep(700 * time.Millisecond)
	results := map[string][]result{}
	for round := range rounds {
		for _, name := range names {
			a := sbcdAddr
			if name == "coturn" {
				a = coturnAddr
			}
			r, err := measure(a, cmds[name].Process.Pid, allocs, pps, size, dur)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", name, round+1, err)
			}
			results[name] = append(results[name], r)
			fmt.Printf("server=%s round=%d allocations=%d pps=%d size=%d duration=%s sent=%d received=%d loss_pct=%.3f "+
				"relayed_pps=%.0f server_cpu_s=%.2f server_cpu_pct=%.1f us_per_packet=%.2f\n",
				name, round+1, allocs, pps, size, dur, r.sent, r.received, r.loss(), r.pps(), r.cpu.Seconds(), r.cpuPct(), r.usPerPacket())
		}
	}
	median := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	for _, name := range names {
		rs := results[name]
		fmt.Printf("median server=%s rounds=%d relayed_pps=%.0f loss_pct=%.3f server_cpu_pct=%.1f us_per_packet=%.2f\n",
			name, len(rs), median(rs, result.pps), median(rs, result.loss), median(rs, result.cpuPct), median(rs, result.usPerPacket))
	}
	return nil
}

// measure drives the server at addr (process pid) for one window.
func measure(addr string, pid, allocs, pps, size int, dur time.Duration) (result, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	var received atomic.Uint64
	relays := make([]net.PacketConn, allocs)
	peers := make([]*net.UDPConn, allocs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range allocs {
		// A client port the kernel hands out again may still have an
		// allocation of an earlier round whose deletion was lost (437
		// Allocation Mismatch): take another port, a few times at most.
		var err error
		for try := 0; ; try++ {
			var conn net.PacketConn
			if conn, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
				return result{}, err
			}
			defer conn.Close()
			c, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
				Username: user, Password: pass, Realm: realm, LoggerFactory: lf})
			if err != nil {
				return result{}, err
			}
			defer c.Close()
			if err := c.Listen(); err != nil {
				return result{}, err
			}
			if relays[i], err = c.Allocate(); err == nil {
				break
			} else if try == 3 {
				return result{}, fmt.Errorf("allocation %d: %w", i, err)
			}
		}
		defer relays[i].Close()
		if peers[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return result{}, err
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
			return result{}, fmt.Errorf("permission %d: %w", i, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	received.Store(0)
	cpu0, err := procstat.ProcessCPU(pid)
	if err != nil {
		return result{}, err
	}
	pkt := make([]byte, size)
	var r result
	interval := time.Second / time.Duration(pps)
	begin := time.Now()
	tick := time.NewTicker(interval)
	for time.Since(begin) < dur {
		<-tick.C
		for i := range allocs {
			if _, err := relays[i].WriteTo(pkt, peers[i].LocalAddr()); err == nil {
				r.sent++
			}
		}
	}
	tick.Stop()
	r.window = time.Since(begin)
	time.Sleep(300 * time.Millisecond)
	cpu1, err := procstat.ProcessCPU(pid)
	if err != nil {
		return result{}, err
	}
	r.received, r.cpu = received.Load(), cpu1-cpu0
	return r, nil
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
  relay_port_max: 42999
  users: [{name: %s, password: %s}]
  user_quota: 5000
  allow_peers: [127.0.0.0/8]
`, sbcdAddr, user, pass)
		if err := os.WriteFile(cfg, []byte(policy), 0o600); err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "-config", cfg)
	case "coturn":
		path, err := exec.LookPath("turnserver")
		if err != nil {
			return nil, fmt.Errorf("coturn (Debian package coturn): %w", err)
		}
		host, port, _ := strings.Cut(coturnAddr, ":")
		cmd = exec.Command(path, "-n", "--listening-ip="+host, "--listening-port="+port, "--relay-ip="+host,
			"--min-port=43000", "--max-port=44999", "--lt-cred-mech", "--user="+user+":"+pass, "--realm="+realm,
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
