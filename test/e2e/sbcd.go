package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LogLine is one JSON log line of sbcd.
type LogLine map[string]any

// Msg is the "msg" attribute.
func (l LogLine) Msg() string { return l.Str("msg") }

// Str returns an attribute as text ("" when absent).
func (l LogLine) Str(key string) string {
	switch v := l[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// Int returns a numeric attribute; ok is false when absent or not a number.
func (l LogLine) Int(key string) (n int64, ok bool) {
	switch v := l[key].(type) {
	case float64:
		return int64(v), true
	case string:
		var x int64
		_, err := fmt.Sscan(v, &x)
		return x, err == nil
	}
	return 0, false
}

// Sbcd is a running sbcd process whose stderr is collected as log lines.
type Sbcd struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	lines   []LogLine
	other   []string // lines that were not JSON
	waitErr error
}

// StartSbcdCmd starts bin with -config, JSON logs and any extra arguments
// (e.g. -log-level debug). The caller must Kill it.
func StartSbcdCmd(bin, config string, extra ...string) (*Sbcd, error) {
	args := append([]string{"-config", config, "-log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("sbcd stderr: %w", err)
	}
	cmd.Stdout = cmd.Stderr // both into the same pipe
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sbcd: %w", err)
	}
	s := &Sbcd{cmd: cmd, done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.read(stderr)
	}()
	go func() {
		<-readDone
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(s.done)
	}()
	return s, nil
}

// StartSbcd starts sbcd for a test with debug logs, waits for "sbcd ready"
// and kills it at test end; on failure the log is written to the test output.
func StartSbcd(t testing.TB, bin, config string, extra ...string) *Sbcd {
	t.Helper()
	s, err := StartSbcdCmd(bin, config, append([]string{"-log-level", "debug"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("sbcd log:\n%s", s.Dump(300))
		}
	})
	if _, err := s.WaitMsg("sbcd ready", 10*time.Second); err != nil {
		t.Fatalf("sbcd not ready: %v\n%s", err, s.Dump(100))
	}
	return s
}

func (s *Sbcd) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		text := sc.Text()
		var l LogLine
		s.mu.Lock()
		if err := json.Unmarshal([]byte(text), &l); err == nil && l != nil {
			s.lines = append(s.lines, l)
		} else {
			s.other = append(s.other, text)
		}
		s.mu.Unlock()
	}
}

// Pid is the process id.
func (s *Sbcd) Pid() int { return s.cmd.Process.Pid }

// Signal sends sig to sbcd.
func (s *Sbcd) Signal(sig os.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal sbcd: %w", err)
	}
	return nil
}

// Kill ends sbcd (if still running) and waits for it; safe to call twice.
func (s *Sbcd) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

// Wait waits up to timeout for sbcd to exit and returns its exit code.
func (s *Sbcd) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("%w: sbcd still running after %v", ErrTimeout, timeout)
	}
	s.mu.Lock()
	err := s.waitErr
	s.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	default:
		return -1, err
	}
}

// Lines returns a copy of the JSON log lines so far.
func (s *Sbcd) Lines() []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogLine(nil), s.lines...)
}

// Find returns the log lines so far that match.
func (s *Sbcd) Find(match func(LogLine) bool) []LogLine {
	var out []LogLine
	for _, l := range s.Lines() {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// WaitFor waits until a log line matches, sbcd exits or timeout passes.
// Lines already logged count.
func (s *Sbcd) WaitFor(match func(LogLine) bool, timeout time.Duration) (LogLine, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seen := 0
	for {
		s.mu.Lock()
		lines := s.lines[seen:]
		seen = len(s.lines)
		s.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, nil
			}
		}
		select {
		case <-s.done:
			// the reader is finished: one last look, then give up
			s.mu.Lock()
			rest := s.lines[seen:]
			s.mu.Unlock()
			for _, l := range rest {
				if match(l) {
					return l, nil
				}
			}
			return nil, ErrExited
		case <-tick.C:
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%w after %v", ErrTimeout, timeout)
			}
		}
	}
}

// WaitMsg waits for a log line with the given msg.
func (s *Sbcd) WaitMsg(msg string, timeout time.Duration) (LogLine, error) {
	l, err := s.WaitFor(func(l LogLine) bool { return l.Msg() == msg }, timeout)
	if err != nil {
		return nil, fmt.Errorf("waiting for %q: %w", msg, err)
	}
	return l, nil
}

// WaitCount waits until n log lines carry the given msg.
func (s *Sbcd) WaitCount(msg string, n int, timeout time.Duration) error {
	seen := 0
	_, err := s.WaitFor(func(l LogLine) bool {
		if l.Msg() == msg {
			seen++
		}
		return seen >= n
	}, timeout)
	if err != nil {
		return fmt.Errorf("waiting for %d lines %q (saw %d): %w", n, msg, seen, err)
	}
	return nil
}

// CallEnded waits for the "call ended" line of the A-leg Call-ID.
func (s *Sbcd) CallEnded(callID string, timeout time.Duration) (LogLine, error) {
	l, err := s.WaitFor(func(l LogLine) bool {
		return l.Msg() == "call ended" && l.Str("call_id") == callID
	}, timeout)
	if err != nil {
		return nil, fmt.Errorf("waiting for call ended of %s: %w", callID, err)
	}
	return l, nil
}

// Dump renders the last n log lines (JSON and other) for a failure report.
func (s *Sbcd) Dump(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, o := range s.other {
		b.WriteString(o + "\n")
	}
	from := max(0, len(s.lines)-n)
	for _, l := range s.lines[from:] {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}
