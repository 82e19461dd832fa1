package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// SippDir is the absolute path of test/sipp (scenarios and configs).
func SippDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "sipp")
	}
	return filepath.Join(filepath.Dir(file), "..", "sipp")
}

// SippOpts describes one sipp run.
type SippOpts struct {
	// Name labels the run in file names and failure reports.
	Name string
	// Scenario is a file under test/sipp, e.g. "uac_basic.xml", or an absolute path.
	Scenario string
	// LocalIP and LocalPort are where sipp binds its SIP socket (-i, -p, -bind_local).
	LocalIP   string
	LocalPort int
	// Remote is the target host:port of a UAC; empty for a UAS.
	Remote string
	// MediaIP and MediaPort are sipp's media address (-mi, -mp); default LocalIP:6000.
	MediaIP   string
	MediaPort int
	// RTPEcho echoes RTP received on the media port (-rtp_echo).
	RTPEcho bool
	// Calls is -m (default 1); Rate is -r calls per second; Limit is -l concurrent calls.
	Calls int
	Rate  float64
	Limit int
	// Duration is -d, the length of <pause/> in the scenario.
	Duration time.Duration
	// Service is the Request-URI user (-s).
	Service string
	// Timeout bounds the whole run (sipp -timeout and a kill after it); default 30 s.
	Timeout time.Duration
	// Dir receives the message, error and statistics files.
	Dir string
	// NoMessageTrace leaves out -trace_msg (load runs: the file grows with
	// every message and costs sipp CPU).
	NoMessageTrace bool
	// Transport is the SIP transport: "" or "udp" (sipp's u1), "tcp" (t1)
	// or "tls" (l1).
	Transport string
	// Extra arguments appended as they are.
	Extra []string
}

// Files are the trace files of a run.
func (o SippOpts) Files() (msg, errs, stat string) {
	base := filepath.Join(o.Dir, o.Name)
	return base + ".msg", base + ".err", base + ".csv"
}

func (o SippOpts) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 30 * time.Second
	}
	return o.Timeout
}

// Args returns sipp's command line for the run.
func (o SippOpts) Args() []string {
	scen := o.Scenario
	if !filepath.IsAbs(scen) {
		scen = filepath.Join(SippDir(), scen)
	}
	msg, errs, stat := o.Files()
	var a []string
	if o.Remote != "" {
		a = append(a, o.Remote)
	}
	mediaIP, mediaPort := o.MediaIP, o.MediaPort
	if mediaIP == "" {
		mediaIP = o.LocalIP
	}
	if mediaPort == 0 {
		mediaPort = CallerMediaPort
	}
	calls := o.Calls
	if calls <= 0 {
		calls = 1
	}
	a = append(a, "-sf", scen,
		"-i", o.LocalIP, "-p", strconv.Itoa(o.LocalPort), "-bind_local",
		"-mi", mediaIP, "-mp", strconv.Itoa(mediaPort),
		"-m", strconv.Itoa(calls),
		"-nostdin",
		"-trace_err", "-error_file", errs,
		"-trace_stat", "-stf", stat, "-fd", "1",
		"-timeout", fmt.Sprintf("%ds", int(o.timeout().Seconds())), "-timeout_error",
	)
	if !o.NoMessageTrace {
		a = append(a, "-trace_msg", "-message_file", msg)
	}
	if o.RTPEcho {
		a = append(a, "-rtp_echo")
	}
	if o.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(o.Rate, 'f', -1, 64))
	}
	if o.Limit > 0 {
		a = append(a, "-l", strconv.Itoa(o.Limit))
	}
	if o.Duration > 0 {
		a = append(a, "-d", strconv.FormatInt(o.Duration.Milliseconds(), 10))
	}
	if o.Service != "" {
		a = append(a, "-s", o.Service)
	}
	switch o.Transport {
	case "tcp":
		a = append(a, "-t", "t1")
	case "tls":
		a = append(a, "-t", "l1")
	}
	return append(a, o.Extra...)
}

// Command builds the sipp process, killed when ctx ends and with the
// parent.
func (o SippOpts) Command(ctx context.Context, sipp string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, sipp, o.Args()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Sipp is a running sipp of a test.
type Sipp struct {
	Opts   SippOpts
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    bytes.Buffer
	done   chan struct{}
	err    error
	result *SippResult
}

// SippResult is what a finished sipp run left behind.
type SippResult struct {
	Name string
	// ExitCode is sipp's: 0 all calls succeeded, 1 some failed, 255/-1 fatal or timeout.
	ExitCode int
	// Messages are every SIP message sent and received, in order.
	Messages []Message
	// Errors is the content of the -error_file.
	Errors string
	// Output is sipp's screen output.
	Output string
	// Stats are the -trace_stat rows (may be empty for very short runs).
	Stats []Stats
}

// StartSipp starts sipp for a test. A UAS is waited for until its SIP port
// is bound. The process is killed at test end at the latest.
func StartSipp(t testing.TB, o SippOpts) *Sipp {
	t.Helper()
	bin := RequireTool(t, "sipp")
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout()+10*time.Second)
	s := &Sipp{Opts: o, cancel: cancel, done: make(chan struct{})}
	s.cmd = o.Command(ctx, bin)
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp %s: %v", o.Name, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	if o.Remote == "" {
		if err := s.waitBound(5 * time.Second); err != nil {
			t.Fatalf("sipp %s: %v\n%s", o.Name, err, s.out.String())
		}
	}
	return s
}

// waitBound polls until sipp's SIP port is taken (a bind of our own fails):
// the UDP port, or the TCP port for a stream transport.
func (s *Sipp) waitBound(timeout time.Duration) error {
	addr := net.JoinHostPort(s.Opts.LocalIP, strconv.Itoa(s.Opts.LocalPort))
	bind := func() (io.Closer, error) { return net.ListenPacket("udp", addr) }
	if s.Opts.Transport == "tcp" || s.Opts.Transport == "tls" {
		bind = func() (io.Closer, error) { return net.Listen("tcp", addr) }
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("exited early: %v", s.err)
		default:
		}
		c, err := bind()
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%w: %s never bound", ErrTimeout, addr)
}

// Wait waits for sipp to exit (bounded by its timeout) and reads its files.
func (s *Sipp) Wait(t testing.TB) *SippResult {
	t.Helper()
	if s.result != nil {
		return s.result
	}
	<-s.done
	s.cancel()
	r, err := s.collect()
	if err != nil {
		t.Fatalf("sipp %s: %v\n%s", s.Opts.Name, err, s.out.String())
	}
	s.result = r
	return r
}

// Stop ends a sipp that is still running (e.g. a UAS after the test got what
// it needed) and collects its files; sipp writes traces as it goes.
func (s *Sipp) Stop(t testing.TB) *SippResult {
	t.Helper()
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			s.cancel()
		}
	}
	return s.Wait(t)
}

func (s *Sipp) collect() (*SippResult, error) {
	r := &SippResult{Name: s.Opts.Name, ExitCode: 0, Output: s.out.String()}
	var ee *exec.ExitError
	switch {
	case s.err == nil:
	case errors.As(s.err, &ee):
		r.ExitCode = ee.ExitCode()
	default:
		return nil, s.err
	}
	msgFile, errFile, statFile := s.Opts.Files()
	if b, err := os.ReadFile(msgFile); err == nil {
		if r.Messages, err = ParseMessageLog(b); err != nil {
			return nil, err
		}
	}
	if b, err := os.ReadFile(errFile); err == nil {
		r.Errors = string(b)
	}
	if b, err := os.ReadFile(statFile); err == nil && len(b) > 0 {
		r.Stats, _ = ParseStats(b)
	}
	return r, nil
}

// Report is a failure description: exit code, errors and the message flow.
func (r *SippResult) Report() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "sipp %s exit %d\n", r.Name, r.ExitCode)
	if r.Errors != "" {
		fmt.Fprintf(&b, "errors:\n%s\n", r.Errors)
	}
	for _, m := range r.Messages {
		dir := "<-"
		if m.Sent {
			dir = "->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", m.Time.Format("15:04:05.000"), dir, m.StartLine)
	}
	return b.String()
}

// Received returns the messages sipp received.
func (r *SippResult) Received() []Message { return Received(r.Messages) }

// Find returns the messages in one direction matching a predicate.
func (r *SippResult) Find(sent bool, match func(*Message) bool) []Message {
	var out []Message
	for i := range r.Messages {
		if r.Messages[i].Sent == sent && match(&r.Messages[i]) {
			out = append(out, r.Messages[i])
		}
	}
	return out
}

// Requests returns the requests of a method sipp received (sent=false) or sent.
func (r *SippResult) Requests(sent bool, method string) []Message {
	return r.Find(sent, func(m *Message) bool { return m.IsRequest() && m.Method() == method })
}

// Responses returns responses with a status code to a method.
func (r *SippResult) Responses(sent bool, status int, method string) []Message {
	return r.Find(sent, func(m *Message) bool {
		return !m.IsRequest() && m.Status() == status && m.Method() == method
	})
}
