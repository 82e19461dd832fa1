package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeradiusConf is a minimal private FreeRADIUS 3 configuration: one
// client (127.0.0.1), an accounting listener on loopback and the detail
// module writing every request to a file.
const freeradiusConf = `
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {{dir}}
raddbdir = {{dir}}
radacctdir = {{dir}}
name = freeradius
confdir = {{dir}}
run_dir = {{dir}}
db_dir = {{dir}}
libdir = /usr/lib/freeradius
pidfile = {{dir}}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stderr
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
	max_requests_per_server = 0
}
client local {
	ipaddr = 127.0.0.1
	secret = {{secret}}
}
modules {
	detail {
		filename = {{dir}}/detail
		permissions = 0600
		header = "%t"
	}
}
server default {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = {{port}}
	}
	accounting {
		detail
	}
}
`

// FreeRADIUS is a private FreeRADIUS accounting server of a test.
type FreeRADIUS struct {
	// Addr is its accounting listener (127.0.0.1:port), Secret the
	// shared secret of client 127.0.0.1.
	Addr, Secret string
	// Detail is the file every accounting request is written to.
	Detail string
	out    lockedBuffer
}

// StartFreeRADIUS runs freeradius in the foreground with a private
// configuration in a temporary directory and waits until it is ready; it
// is killed at test end, and its output logged if the test failed.
func StartFreeRADIUS(t testing.TB, secret string) *FreeRADIUS {
	t.Helper()
	bin := RequireTool(t, "freeradius")
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	conf := strings.NewReplacer("{{dir}}", dir, "{{secret}}", secret, "{{port}}", fmt.Sprint(port)).Replace(freeradiusConf)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &FreeRADIUS{Addr: fmt.Sprintf("127.0.0.1:%d", port), Secret: secret, Detail: filepath.Join(dir, "detail")}
	cmd := exec.Command(bin, "-f", "-X", "-d", dir)
	cmd.Stdout, cmd.Stderr = &f.out, &f.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("freeradius output:\n%s", f.out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(f.out.String(), "Ready to process requests") {
		if time.Now().After(deadline) {
			t.Fatalf("freeradius did not start:\n%s", f.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f
}

// DetailBlocks returns the accounting requests written so far, one block
// of "Attribute = value" lines each.
func (f *FreeRADIUS) DetailBlocks() []string {
	b, err := os.ReadFile(f.Detail)
	if err != nil {
		return nil
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n\n")
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
