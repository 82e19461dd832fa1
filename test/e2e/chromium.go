package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/wav"
)

// Browser is a headless Chromium driven over the DevTools protocol: one
// page, JavaScript evaluated in it.
type Browser struct {
	cmd    *exec.Cmd
	conn   io.ReadWriteCloser
	mu     sync.Mutex
	nextID int
	stderr *lockedBuffer
}

// lockedBuffer keeps a process's output for failure reports.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) add(s string) {
	l.mu.Lock()
	if l.b.Len() < 1<<20 {
		l.b.WriteString(s)
		l.b.WriteByte('\n')
	}
	l.mu.Unlock()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

// StartChromium opens url in a fresh headless Chromium whose fake
// microphone plays wavFile. The browser is stopped when the test ends.
func StartChromium(t testing.TB, url, wavFile string, flags ...string) *Browser {
	t.Helper()
	return StartChromiumIn(t, "", url, wavFile, flags...)
}

// StartChromiumIn is StartChromium with the browser in network namespace
// netns (empty: this one). Its DevTools socket listens on the namespace's
// own loopback, so the test reaches it with sockets opened inside the
// namespace (NetnsDialer).
func StartChromiumIn(t testing.TB, netns, url, wavFile string, flags ...string) *Browser {
	t.Helper()
	bin := RequireTool(t, "chromium")
	dir := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture=" + wavFile,
		"--autoplay-policy=no-user-gesture-required",
		// ICE host candidates on loopback (the test networks are 127/8).
		"--allow-loopback-in-peer-connection",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
	}
	args = append(append(args, flags...), url)
	cmd := exec.Command(bin, args...)
	if netns != "" {
		cmd = exec.Command(RequireTool(t, "ip"), append([]string{"netns", "exec", netns, bin}, args...)...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &Browser{cmd: cmd, stderr: &lockedBuffer{}}
	t.Cleanup(b.Close)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			b.stderr.add(line)
			if m := devtoolsRE.FindStringSubmatch(line); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	var browserWS string
	select {
	case browserWS = <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("chromium printed no DevTools address:\n%s", b.stderr)
	}
	dial := NetnsDialer(netns)
	page, err := pageWebSocket(dial, browserWS, url)
	if err != nil {
		t.Fatalf("chromium page: %v\n%s", err, b.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dialer{NetDial: dial}.Dial(ctx, page)
	if err != nil {
		t.Fatalf("devtools connect: %v", err)
	}
	b.conn = conn
	return b
}

// pageWebSocket finds the DevTools address of the page showing url.
func pageWebSocket(dial func(context.Context, string, string) (net.Conn, error), browserWS, url string) (string, error) {
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.Index(host, "/")]
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := client.Get("http://" + host + "/json/list")
		if err == nil {
			var pages []struct {
				Type, URL            string
				WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
			}
			err = json.NewDecoder(res.Body).Decode(&pages)
			res.Body.Close()
			for _, p := range pages {
				if p.Type == "page" && strings.HasPrefix(p.URL, strings.Split(url, "?")[0]) {
					return p.WebSocketDebuggerURL, nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no page for %s", url)
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its JSON value into out (may be nil).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	id := b.nextID
	req, _ := json.Marshal(map[string]any{"id": id, "method": "Runtime.evaluate", "params": map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true}})
	if d, ok := ctx.Deadline(); ok {
		if c, ok := b.conn.(interface{ SetDeadline(time.Time) error }); ok {
			_ = c.SetDeadline(d)
			defer c.SetDeadline(time.Time{})
		}
	}
	if err := wsutil.WriteClientText(b.conn, req); err != nil {
		return fmt.Errorf("devtools write: %w", err)
	}
	for {
		msg, err := wsutil.ReadServerText(b.conn)
		if err != nil {
			return fmt.Errorf("devtools read: %w", err)
		}
		var res struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value json.RawMessage `json:"value"`
				} `json:"result"`
				ExceptionDetails *struct {
					Text      string `json:"text"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(msg, &res); err != nil || res.ID != id {
			continue
		}
		if res.Error != nil {
			return errors.New("devtools: " + res.Error.Message)
		}
		if e := res.Result.ExceptionDetails; e != nil {
			return fmt.Errorf("page: %s %s", e.Text, e.Exception.Description)
		}
		if out == nil || len(res.Result.Result.Value) == 0 {
			return nil
		}
		return json.Unmarshal(res.Result.Result.Value, out)
	}
}

// WaitEval evaluates expr until it returns true or the timeout passes.
func (b *Browser) WaitEval(expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var ok bool
		last = b.Eval(ctx, expr, &ok)
		cancel()
		if last == nil && ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last != nil {
		return fmt.Errorf("%s: %w", expr, last)
	}
	return fmt.Errorf("%s stayed false for %s", expr, timeout)
}

// NetnsDialer dials from inside network namespace netns (a name under
// /run/netns; empty: this namespace). Each dial locks its goroutine to an
// OS thread, moves the thread into the namespace, dials, and moves it back
// before unlocking. The socket stays in the namespace it was made in and
// works from any thread. The thread must not die instead of moving back:
// a child process started from it (sbcd has Pdeathsig set) would be killed
// with it; only when the way back fails is the thread left to die.
func NetnsDialer(netns string) func(context.Context, string, string) (net.Conn, error) {
	if netns == "" {
		var d net.Dialer
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, err}
				return
			}
			defer home.Close()
			target, err := os.Open(filepath.Join("/run/netns", netns))
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, err}
				return
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, fmt.Errorf("enter network namespace %s: %w", netns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// Log returns what Chromium wrote to stderr.
func (b *Browser) Log() string { return b.stderr.String() }

// Close stops the browser and its helper processes.
func (b *Browser) Close() {
	if b.conn != nil {
		_ = b.conn.Close()
	}
	if b.cmd.Process != nil {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		_ = b.cmd.Wait()
	}
}

// WriteToneWAV writes seconds of a freq Hz sine (48 kHz mono, -10 dBm0)
// to path, for Chromium's fake microphone.
func WriteToneWAV(path string, freq float64, seconds int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := wav.NewWriter(f, 48000, 1)
	if err != nil {
		return err
	}
	tone, err := codecs.NewTone(48000, freq, -10)
	if err != nil {
		return err
	}
	buf := make([]int16, 960)
	for range seconds * 50 {
		tone.Read(buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.Close()
}
