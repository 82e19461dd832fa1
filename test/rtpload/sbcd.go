//go:build linux

package main

// The relay under test: sbcd started for the run, or a running relay
// reached over its ng socket, and what sbcd's admin API tells about it.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openborder/openborder/test/e2e"
)

// startSbcd writes a one-realm config, starts sbcd and waits until its ng
// socket answers ping.
func startSbcd(o options, dir string) (*e2e.Sbcd, *ngClient, string, error) {
	bin := o.sbcd
	if bin == "" {
		bin = filepath.Join(dir, "sbcd")
		b := exec.Command("go", "build", "-o", bin, "./cmd/sbcd")
		b.Dir = repoRoot()
		if out, err := b.CombinedOutput(); err != nil {
			return nil, nil, "", fmt.Errorf("go build ./cmd/sbcd: %w\n%s", err, out)
		}
	}
	ngPort, err1 := freePort("udp")
	sipPort, err2 := freePort("udp")
	adminPort, err3 := freePort("tcp")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, "", err
	}
	ngAddr := netip.AddrPortFrom(loopback, ngPort)
	admin := netip.AddrPortFrom(loopback, adminPort).String()
	cfg := filepath.Join(dir, "rtpload.yaml")
	yaml := fmt.Sprintf(`log: {level: warn, format: json}
media: {ng: "%s", timeout: 600s, relay: {mode: %s, workers: %d, kernel_forwarding: %s}}
admin: {address: "%s"}
realms:
  - name: access
    listeners: [{transport: udp, address: "127.0.0.1:%d"}]
    media: {address: %s, port_min: %d, port_max: %d}
`, ngAddr, o.relayMode, o.workers, o.kernel, admin, sipPort, hosts.relay, o.portMin, o.portMax)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return nil, nil, "", err
	}
	s, err := e2e.StartSbcdCmd(bin, cfg, "-log-level", "warn")
	if err != nil {
		return nil, nil, "", err
	}
	ngc, err := dialNG(ngAddr)
	if err != nil {
		stopSbcd(s)
		return nil, nil, "", err
	}
	ngc.timeout, ngc.tries = 200*time.Millisecond, 1
	var perr error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		if perr = ngc.ping(); perr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // a refused send fails at once
	}
	if perr != nil {
		ngc.Close()
		stopSbcd(s)
		return nil, nil, "", fmt.Errorf("sbcd's ng socket does not answer: %w\n%s", perr, s.Dump(30))
	}
	ngc.timeout, ngc.tries = time.Second, 3
	return s, ngc, admin, nil
}

// dialExternal connects to a running relay's ng socket and waits until it
// answers ping.
func dialExternal(addr string) (*ngClient, error) {
	ngc, err := dialNG(netip.MustParseAddrPort(addr))
	if err != nil {
		return nil, err
	}
	ngc.timeout, ngc.tries = time.Second, 3
	if err := ngc.ping(); err != nil {
		ngc.Close()
		return nil, fmt.Errorf("the ng socket at %s does not answer: %w", addr, err)
	}
	return ngc, nil
}

// stopSbcd asks sbcd to stop and kills it if it has not after 10 s.
func stopSbcd(s *e2e.Sbcd) {
	if err := s.Signal(syscall.SIGTERM); err == nil {
		if _, err := s.Wait(10 * time.Second); err == nil {
			return
		}
	}
	s.Kill()
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(network string) (uint16, error) {
	if network == "tcp" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return uint16(l.Addr().(*net.TCPAddr).Port), nil
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
}

// repoRoot is the module root, found from the working directory upwards.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// fetchProfile saves a CPU profile of sbcd from its admin listener.
func fetchProfile(ctx context.Context, admin string, secs int, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs)
	return e2e.AdminSave(ctx, url, time.Duration(secs+15)*time.Second, path)
}

// kernelFigures reads sbcd's kernel forwarding metrics from its admin
// listener's /metrics (Prometheus text format; unlabelled samples only).
func kernelFigures(ctx context.Context, admin string) (map[string]float64, error) {
	var b strings.Builder
	if err := e2e.AdminGet(ctx, "http://"+admin+"/metrics", 5*time.Second, &b); err != nil {
		return nil, err
	}
	return parseMetrics(b.String(), "openborder_media_kernel_"), nil
}
