package radius

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

	"github.com/openborder/openborder/cdr"

	"github.com/openborder/openborder/test/testenv"
)

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

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

func TestFreeRADIUSInterop(t *testing.T) {
	bin := testenv.RequireTool(t, "freeradius")
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	const secret = "interop-secret"
	conf := strings.NewReplacer("{{dir}}", dir, "{{secret}}", secret, "{{port}}", fmt.Sprint(port)).Replace(freeradiusConf)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "-f", "-X", "-d", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("freeradius output:\n%s", out.String())
		}
	})
	waitFor(t, "freeradius to start", 15*time.Second, func() bool {
		return strings.Contains(out.String(), "Ready to process requests")
	})

	cfg := cdr.RADIUSConfig{
		Servers:  []cdr.RADIUSServer{{Address: fmt.Sprintf("127.0.0.1:%d", port), Secret: secret}},
		Timeout:  time.Second,
		SpoolDir: filepath.Join(dir, "spool"), NASIdentifier: "sbcd-interop",
	}
	c := newClient(t, cfg)
	rec := testRecord("interop")
	c.Start(rec)
	c.Stop(rec)
	waitFor(t, "accounting responses", 10*time.Second, func() bool { return c.Stats().Sent == 2 })
	if st := c.Stats(); st.Retried != 0 || st.Spooled != 0 {
		t.Fatalf("stats %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(dir, "detail"))
	if err != nil {
		t.Fatal(err)
	}
	detail := string(b)
	// The detail file holds one block per request, separated by a blank line.
	t.Logf("detail file:\n%s", detail)
	blocks := strings.Split(strings.TrimSpace(detail), "\n\n")
	if len(blocks) != 2 {
		t.Fatalf("%d detail blocks:\n%s", len(blocks), detail)
	}
	for i, want := range [][]string{
		{"Acct-Status-Type = Start", `Acct-Session-Id = "interop-1"`, `User-Name = "alice"`, `Called-Station-Id = "+49301234567"`, `NAS-Identifier = "sbcd-interop"`},
		{"Acct-Status-Type = Stop", `Acct-Session-Id = "interop-1"`, "Acct-Session-Time = 45", "Acct-Terminate-Cause = User-Request", "Acct-Delay-Time = "},
	} {
		for _, w := range want {
			if !strings.Contains(blocks[i], w) {
				t.Errorf("detail block %d lacks %q:\n%s", i, w, blocks[i])
			}
		}
	}
}
