// Package kamailio_test drives the ng control protocol from a real Kamailio
// (rtpengine module) with sipp calls placed through it: sipp UAC -> Kamailio
// -> sipp UAS, media anchored on the engine behind an ng.Server.
package kamailio_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"

	"github.com/openborder/openborder/test/testenv"
)

const (
	// Loopback addresses of the parties, distinct so that an address that
	// leaks from one side to the other shows in the SDP.
	proxyAddr = "127.0.0.1"
	engAddr   = "127.0.0.1"
	uacAddr   = "127.0.1.1"
	uasAddr   = "127.0.2.1"

	// Engine port range of the interop tests.
	portMin = 40000
	portMax = 40999

	calls = 2

	kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
	offerFlags      = "replace-origin replace-session-connection ICE=remove trust-address"
)

// requireTools skips the test when a peer is missing, or fails it in CI.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"kamailio", "sipp"} {
		testenv.RequireTool(t, tool)
	}
	testenv.RequireFile(t, filepath.Join(kamailioModules, "rtpengine.so"))
}

// recorder wraps an engine and keeps the statistics of every deleted call.
type recorder struct {
	ng.Engine
	mu      sync.Mutex
	deleted map[string]rtpengine.CallStats
}

func (r *recorder) Delete(callID, fromTag string) (rtpengine.CallStats, error) {
	cs, err := r.Engine.Delete(callID, fromTag)
	if err == nil {
		r.mu.Lock()
		r.deleted[callID] = cs
		r.mu.Unlock()
	}
	return cs, err
}

func (r *recorder) snapshot() map[string]rtpengine.CallStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]rtpengine.CallStats, len(r.deleted))
	for k, v := range r.deleted {
		out[k] = v
	}
	return out
}

// freeUDPPort returns a UDP port that was free on addr a moment ago.
func freeUDPPort(t *testing.T, addr string) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("free port on %s: %v", addr, err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// runInterop places `calls` calls through Kamailio with media anchored on
// eng, and checks signalling, SDP and media.
func runInterop(t *testing.T, eng ng.Engine) {
	t.Helper()
	dir := t.TempDir()
	rec := &recorder{Engine: eng, deleted: map[string]rtpengine.CallStats{}}

	// ng control server.
	pc, err := net.ListenPacket("udp", net.JoinHostPort(engAddr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv := ng.NewServer(rec, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithCancel(context.Background())
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ctx, pc) }()
	defer func() {
		cancel()
		if err := <-serveDone; err != nil {
			t.Errorf("ng Serve: %v", err)
		}
	}()
	ngPort := pc.LocalAddr().(*net.UDPAddr).Port

	// Kamailio.
	proxyPort := freeUDPPort(t, proxyAddr)
	uasPort := freeUDPPort(t, uasAddr)
	uacPort := freeUDPPort(t, uacAddr)
	stopKamailio := startKamailio(t, dir, proxyPort, ngPort, uasPort)
	defer stopKamailio()
	waitFor(t, "kamailio ping over ng", func() bool { return srv.Stats().Received > 0 })

	// sipp UAS, then UAC.
	uasLog := filepath.Join(dir, "uas_messages.log")
	uacLog := filepath.Join(dir, "uac_messages.log")
	uas := sipp(dir, "uas", "-sf", "testdata/uas.xml", "-i", uasAddr, "-p", strconv.Itoa(uasPort),
		"-mp", strconv.Itoa(freeUDPPort(t, uasAddr)), "-rtp_echo", "-m", strconv.Itoa(calls),
		"-trace_msg", "-message_file", uasLog)
	if err := uas.Start(); err != nil {
		t.Fatalf("start sipp uas: %v", err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uas.Wait() }()
	defer func() {
		if uas.ProcessState == nil {
			_ = uas.Process.Kill()
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the UAS bind before the first INVITE

	uac := sipp(dir, "uac", "-sf", "testdata/uac.xml", net.JoinHostPort(proxyAddr, strconv.Itoa(proxyPort)),
		"-s", "echo", "-i", uacAddr, "-p", strconv.Itoa(uacPort), "-mp", strconv.Itoa(freeUDPPort(t, uacAddr)),
		"-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls), "-r", "10",
		"-trace_msg", "-message_file", uacLog)
	uacErr := uac.Run()
	var uasErr error
	select {
	case uasErr = <-uasDone:
	case <-time.After(20 * time.Second):
		_ = uas.Process.Kill()
		uasErr = errors.New("sipp uas did not finish")
	}
	if uacErr != nil || uasErr != nil {
		t.Errorf("sipp uac: %v; sipp uas: %v", uacErr, uasErr)
		dumpFile(t, filepath.Join(dir, "uac.out"))
		dumpFile(t, filepath.Join(dir, "uas.out"))
		dumpFile(t, filepath.Join(dir, "kamailio.log"))
	}

	// The SDP each side received points at the engine.
	checkSDP(t, "UAS", uasLog, "INVITE", calls)
	checkSDP(t, "UAC", uacLog, "SIP/2.0 200", calls)

	// Media flowed both ways through the engine.
	waitFor(t, "ng delete of every call", func() bool { return len(rec.snapshot()) >= calls })
	for id, cs := range rec.snapshot() {
		if len(cs.Legs) != 2 {
			t.Errorf("call %s: %d legs in delete stats, want 2: %+v", id, len(cs.Legs), cs)
			continue
		}
		for _, leg := range cs.Legs {
			var in, out uint64
			for _, st := range leg.Streams {
				in += st.PacketsIn
				out += st.PacketsOut
				if p := int(st.Local.Port()); p < portMin || p > portMax {
					t.Errorf("call %s leg %s: local port %d outside %d-%d", id, leg.Tag, p, portMin, portMax)
				}
			}
			if in < 100 || out < 100 {
				t.Errorf("call %s leg %s: packets in %d, out %d; want >= 100 each way", id, leg.Tag, in, out)
			}
			t.Logf("call %s leg %s: packets in %d, out %d", id, leg.Tag, in, out)
		}
	}
	if st := srv.Stats(); st.Errors != 0 || st.Panics != 0 {
		t.Errorf("ng server stats: %+v", st)
	}
}

type kamailioParams struct {
	ProxyAddr, NGAddr, UASAddr    string
	ProxyPort, NGPort, UASPort    int
	RuntimeDir, ModulePath, Flags string
}

// startKamailio writes the config, starts Kamailio in the foreground and
// waits until it holds its SIP port. The returned func stops it by PID.
func startKamailio(t *testing.T, dir string, proxyPort, ngPort, uasPort int) func() {
	t.Helper()
	tmpl, err := template.ParseFiles("testdata/kamailio.cfg.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var cfg bytes.Buffer
	if err := tmpl.Execute(&cfg, kamailioParams{
		ProxyAddr: proxyAddr, ProxyPort: proxyPort, NGAddr: engAddr, NGPort: ngPort,
		UASAddr: uasAddr, UASPort: uasPort, RuntimeDir: dir, ModulePath: kamailioModules, Flags: offerFlags,
	}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "kamailio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("kamailio", "-DD", "-E", "-f", cfgPath, "-m", "64", "-M", "8")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		// Kamailio's main process stops its workers on SIGTERM.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		_ = logf.Close()
	}
	// Ready when the SIP port is taken.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			dumpFile(t, logf.Name())
			t.Fatal("kamailio exited during start")
		default:
		}
		probe, err := net.ListenPacket("udp", net.JoinHostPort(proxyAddr, strconv.Itoa(proxyPort)))
		if err != nil {
			return stop
		}
		_ = probe.Close()
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	dumpFile(t, logf.Name())
	t.Fatal("kamailio did not bind its SIP port")
	return nil
}

func sipp(dir, name string, args ...string) *exec.Cmd {
	base := []string{"-nostdin", "-timeout", "40s", "-timeout_error", "-trace_err",
		"-error_file", filepath.Join(dir, name+"_errors.log")}
	cmd := exec.Command("sipp", append(base, args...)...)
	if out, err := os.Create(filepath.Join(dir, name+".out")); err == nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	return cmd
}

// checkSDP reads a sipp message log and checks every SDP received in a
// message whose first line starts with first: the connection address is the
// engine's and the audio port lies in the engine's range.
func checkSDP(t *testing.T, who, path, first string, want int) {
	t.Helper()
	msgs, err := receivedMessages(path)
	if err != nil {
		t.Errorf("%s: %v", who, err)
		return
	}
	seen := 0
	for _, m := range msgs {
		if !strings.HasPrefix(m, first) || !strings.Contains(m, "\nm=audio ") {
			continue
		}
		seen++
		var conn string
		port := -1
		for _, line := range strings.Split(m, "\n") {
			line = strings.TrimSpace(line)
			if c, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
				conn = c
			}
			if f, ok := strings.CutPrefix(line, "m=audio "); ok {
				port, _ = strconv.Atoi(strings.Fields(f)[0])
			}
		}
		if conn != engAddr || port < portMin || port > portMax {
			t.Errorf("%s received SDP with c=%s port %d, want %s and %d-%d:\n%s", who, conn, port, engAddr, portMin, portMax, m)
		}
		body := m
		if i := strings.Index(m, "\nv=0"); i >= 0 {
			body = m[i:]
		}
		for _, leak := range []string{uacAddr, uasAddr} {
			if strings.Contains(body, leak) {
				t.Errorf("%s received SDP that names %s:\n%s", who, leak, m)
			}
		}
	}
	if seen < want {
		t.Errorf("%s received %d SDP bodies in %q messages, want %d", who, seen, first, want)
	}
	t.Logf("%s received %d SDP bodies, all pointing at the engine", who, seen)
}

// receivedMessages splits a sipp -trace_msg file into the messages received.
func receivedMessages(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("message log: %w", err)
	}
	defer f.Close()
	var msgs []string
	var cur *strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "----------------------------------------------- "):
			if cur != nil {
				msgs = append(msgs, strings.TrimSpace(cur.String()))
			}
			cur = nil
		case cur == nil && strings.Contains(line, "message received"):
			cur = &strings.Builder{}
		case cur != nil:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	if cur != nil {
		msgs = append(msgs, strings.TrimSpace(cur.String()))
	}
	return msgs, sc.Err()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func dumpFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	t.Logf("--- %s ---\n%s", filepath.Base(path), b)
}

// endpointOf extracts c= and m=audio from an SDP body.
func endpointOf(sdp []byte) (netip.AddrPort, bool) {
	var addr netip.Addr
	port := -1
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			if a, err := netip.ParseAddr(c); err == nil {
				addr = a
			}
		}
		if f, ok := strings.CutPrefix(line, "m=audio "); ok {
			if fs := strings.Fields(f); len(fs) > 0 {
				port, _ = strconv.Atoi(fs[0])
			}
		}
	}
	if !addr.IsValid() || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}
