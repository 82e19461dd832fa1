package snmp

import (
	"bytes"
	"context"
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
	"testing"
	"time"
)

const (
	testCommunity = "obtest"
	testUser      = "obadmin"
	testAuthPass  = "auth-pass-0123"
	testPrivPass  = "priv-pass-0123"
)

// snmpd is a private net-snmp master agent for one test.
type snmpd struct {
	t       *testing.T
	bin     string
	dir     string
	conf    string
	udpPort int
	axPort  int

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

func newSnmpd(t *testing.T, bin string, trapPort int) *snmpd {
	d := &snmpd{t: t, bin: bin, dir: t.TempDir(), udpPort: freePort(t, "udp"), axPort: freePort(t, "tcp")}
	d.conf = filepath.Join(d.dir, "snmpd.conf")
	conf := fmt.Sprintf(`master agentx
agentXSocket tcp:127.0.0.1:%d
agentXTimeout 5
agentXRetries 1
rocommunity %s 127.0.0.1
rwcommunity %s-rw 127.0.0.1
createUser %s SHA "%s" AES "%s"
rouser %s priv
trap2sink 127.0.0.1:%d %s
`, d.axPort, testCommunity, testCommunity, testUser, testAuthPass, testPrivPass, testUser, trapPort, testCommunity)
	if err := os.WriteFile(d.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *snmpd) start() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.out = &bytes.Buffer{}
	cmd := exec.Command(d.bin, "-f", "-Lo", "-C", "-c", d.conf, "-p", filepath.Join(d.dir, "snmpd.pid"),
		fmt.Sprintf("udp:127.0.0.1:%d", d.udpPort))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(d.dir, "persist"), "MIBS=", "MIBDIRS="+d.dir)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start snmpd: %v", err)
	}
	d.cmd = cmd
	// Ready when the AgentX socket accepts connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.axPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("snmpd did not open its agentx socket: %v\n%s", err, d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends snmpd abruptly, as a crash would.
func (d *snmpd) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}

func (d *snmpd) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
}

func (d *snmpd) target() string { return fmt.Sprintf("127.0.0.1:%d", d.udpPort) }

// run runs a net-snmp client with a time limit and returns its output.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// walkLine is one "OID = TYPE: value" line of numeric client output.
type walkLine struct {
	oid   OID
	typ   string
	value string
}

func parseLines(t *testing.T, out string) []walkLine {
	t.Helper()
	var ls []walkLine
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("unexpected client output line %q in:\n%s", line, out)
		}
		o, err := ParseOID(name)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		typ, val, ok := strings.Cut(rest, ": ")
		if !ok {
			typ, val = rest, ""
		}
		ls = append(ls, walkLine{oid: o, typ: typ, value: strings.Trim(val, `"`)})
	}
	return ls
}

// testSnapshot is the fake daemon state; realms and trunks come unsorted.
func testSnapshot() Snapshot {
	return Snapshot{
		System: System{
			Version:           "1.4.2-test",
			Uptime:            1234560 * time.Millisecond,
			ConfigHash:        "sha256:5f1c0ffee",
			LastReload:        time.Date(2026, 3, 14, 15, 9, 26, 500e6, time.UTC),
			LastReloadStatus:  ReloadFailed,
			LastReloadMessage: "trunks[2].gateways: empty",
		},
		Realms: []Realm{
			{Name: "core", Transport: "udp,tcp", Address: "127.0.0.1:5080", ActiveCalls: 7},
			{Name: "access", Transport: "udp,tcp,ws", Address: "127.0.0.1:5060", ActiveCalls: 9},
		},
		Trunks: []Trunk{
			{Name: "pstn", Up: false, Gateways: 2, GatewaysUp: 0, ASR: 0, ActiveCalls: 0},
			{Name: "pbx", Up: true, Gateways: 1, GatewaysUp: 1, ASR: 0.4567, ActiveCalls: 5},
			{Name: "carrier-b", Up: true, Gateways: 3, GatewaysUp: 2, ASR: 0.71, ActiveCalls: 2},
		},
		Calls:    Calls{Active: 9, Attempts: 1 << 40, Answered: 31337, Failed: 4242},
		Media:    Media{ActiveStreams: 18, PacketsRelayed: 9_876_543_210, PacketsLost: 1234, MeanMOS: 4.32},
		Capacity: Capacity{PortPoolSize: 10000, PortPoolUsed: 36, MaxCalls: 2000, CallLimit: 5000, Overloaded: true, ShedRate: 73},
	}
}

// trapSink collects the SNMPv2c notifications snmpd forwards.
type trapSink struct {
	conn net.PacketConn
	ch   chan []trapVar
	wg   sync.WaitGroup
}

func newTrapSink(t *testing.T) *trapSink {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &trapSink{conn: c, ch: make(chan []trapVar, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			comm, vars, err := decodeV2Trap(buf[:n])
			if err != nil || comm != testCommunity {
				continue
			}
			select {
			case s.ch <- vars:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); s.wg.Wait() })
	return s
}

func (s *trapSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// await returns the first notification whose snmpTrapOID is want.
func (s *trapSink) await(t *testing.T, want OID) []trapVar {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case vars := <-s.ch:
			for _, v := range vars {
				if v.name.Compare(oidSnmpTrapOID) == 0 && v.value == want.String() {
					return vars
				}
			}
		case <-timeout:
			t.Fatalf("no notification %s at the trap sink", want)
		}
	}
}

func waitConnected(t *testing.T, a *Agent, sessions uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !a.Connected() || a.Stats().Sessions < sessions {
		if time.Now().After(deadline) {
			t.Fatalf("agent not registered with snmpd (stats %+v)", a.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWithSnmpd(t *testing.T) {
	tools := requireTools(t, "snmpd", "snmpget", "snmpwalk", "snmpbulkwalk", "snmpset")
	sink := newTrapSink(t)
	d := newSnmpd(t, tools["snmpd"], sink.port())
	d.start()

	snap := testSnapshot()
	var activeCalls atomic.Uint32 // changed while the agent serves
	activeCalls.Store(snap.Calls.Active)
	a, err := New(Config{
		Address:      fmt.Sprintf("tcp:127.0.0.1:%d", d.axPort),
		Timeout:      2 * time.Second,
		PingInterval: 500 * time.Millisecond,
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   500 * time.Millisecond,
	}, SourceFunc(func() Snapshot {
		s := snap
		s.Calls.Active = activeCalls.Load()
		return s
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitConnected(t, a, 1)

	root := "." + Subtree.String()
	v2c := []string{"-v2c", "-c", testCommunity, "-On", "-Oe", "-t", "2", "-r", "1", d.target()}

	t.Run("v2c walk", func(t *testing.T) {
		out, err := run(t, tools["snmpwalk"], append(v2c, root)...)
		if err != nil {
			t.Fatalf("snmpwalk: %v\n%s", err, out)
		}
		checkWalk(t, parseLines(t, out), &snap)
	})

	t.Run("v2c bulk walk", func(t *testing.T) {
		out, err := run(t, tools["snmpbulkwalk"], append(append([]string{"-Cr7"}, v2c...), root)...)
		if err != nil {
			t.Fatalf("snmpbulkwalk: %v\n%s", err, out)
		}
		checkWalk(t, parseLines(t, out), &snap)
	})

	t.Run("v2c table column", func(t *testing.T) {
		out, err := run(t, tools["snmpbulkwalk"], append(v2c, root+".1.3.2.1.2")...)
		if err != nil {
			t.Fatalf("snmpbulkwalk: %v\n%s", err, out)
		}
		ls := parseLines(t, out)
		var names []string
		for _, l := range ls {
			names = append(names, l.value)
		}
		if got, want := strings.Join(names, ","), "carrier-b,pbx,pstn"; got != want {
			t.Fatalf("obTrunkName column = %s, want %s", got, want)
		}
	})

	t.Run("v2c get missing", func(t *testing.T) {
		out, err := run(t, tools["snmpget"], append(v2c, root+".1.1.1", root+".1.4.9.0", root+".1.3.2.1.2.4")...)
		if err != nil {
			t.Fatalf("snmpget: %v\n%s", err, out)
		}
		for _, want := range []string{"No Such Instance", "No Such Object", "No Such Instance"} {
			if !strings.Contains(out, want) {
				t.Fatalf("snmpget output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("set refused", func(t *testing.T) {
		// A read-write community gets past snmpd's access control, so the
		// refusal comes from the subagent's TestSet answer.
		out, err := run(t, tools["snmpset"], "-v2c", "-c", testCommunity+"-rw", "-On", "-t", "2", "-r", "0",
			d.target(), root+".1.1.1.0", "s", "x")
		if err == nil {
			t.Fatalf("snmpset succeeded on a read-only MIB:\n%s", out)
		}
		if !strings.Contains(out, "notWritable") {
			t.Fatalf("snmpset error is not a write refusal:\n%s", out)
		}
	})

	t.Run("v3 authPriv get", func(t *testing.T) {
		args := []string{"-v3", "-l", "authPriv", "-u", testUser, "-a", "SHA", "-A", testAuthPass,
			"-x", "AES", "-X", testPrivPass, "-On", "-Oe", "-t", "2", "-r", "1", d.target(),
			root + ".1.1.1.0", root + ".1.4.2.0", root + ".1.5.4.0", root + ".1.3.2.1.6.2"}
		out, err := run(t, tools["snmpget"], args...)
		if err != nil {
			t.Fatalf("snmpget v3: %v\n%s", err, out)
		}
		ls := parseLines(t, out)
		want := []string{"STRING:1.4.2-test", "Counter64:1099511627776", "Gauge32:432", "Gauge32:4567"}
		if len(ls) != len(want) {
			t.Fatalf("got %d lines, want %d:\n%s", len(ls), len(want), out)
		}
		for i, l := range ls {
			if got := l.typ + ":" + l.value; got != want[i] {
				t.Errorf("%s = %s, want %s", l.oid, got, want[i])
			}
		}
	})

	t.Run("v3 wrong password", func(t *testing.T) {
		args := []string{"-v3", "-l", "authPriv", "-u", testUser, "-a", "SHA", "-A", "not-the-password",
			"-x", "AES", "-X", testPrivPass, "-On", "-t", "1", "-r", "0", d.target(), root + ".1.1.1.0"}
		out, err := run(t, tools["snmpget"], args...)
		if err == nil || strings.Contains(out, "1.4.2-test") {
			t.Fatalf("snmpget with a wrong password answered:\n%s", out)
		}
	})

	t.Run("mib names resolve", func(t *testing.T) {
		mibs := "testdata/mibs:../../configs"
		out, err := run(t, tools["snmpget"], "-v2c", "-c", testCommunity, "-M", mibs, "-m", "OPENBORDER-MIB",
			"-t", "2", "-r", "1", d.target(),
			"OPENBORDER-MIB::obSysVersion.0", "OPENBORDER-MIB::obTrunkState.3", "OPENBORDER-MIB::obSysLastReloadStatus.0")
		if err != nil {
			t.Fatalf("snmpget with MIB: %v\n%s", err, out)
		}
		for _, want := range []string{
			`OPENBORDER-MIB::obSysVersion.0 = STRING: 1.4.2-test`,
			`OPENBORDER-MIB::obTrunkState.3 = INTEGER: down(2)`,
			`OPENBORDER-MIB::obSysLastReloadStatus.0 = INTEGER: failed(3)`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("notifications reach the trap sink", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Notify(ctx, TrunkDown{Trunk: "pstn", Gateways: 2, GatewaysUp: 0, Reason: "OPTIONS timeout"}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		vars := sink.await(t, notificationOID(trapTrunkDown))
		got := map[string]string{}
		for _, v := range vars {
			got[v.name.String()] = v.value
		}
		want := map[string]string{
			Subtree.String() + ".1.3.2.1.2.3": "pstn",
			Subtree.String() + ".1.3.2.1.3.3": "2",
			Subtree.String() + ".1.3.2.1.4.3": "2",
			Subtree.String() + ".1.3.2.1.5.3": "0",
			Subtree.String() + ".1.7.1.0":     "OPTIONS timeout",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("varbind %s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if err := a.Notify(ctx, SourceBlacklisted{Address: "127.0.0.66", Realm: "access", Reason: "scanner"}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		vars = sink.await(t, notificationOID(trapSourceBlacklisted))
		if len(vars) < 5 || vars[2].value != "127.0.0.66" || vars[3].value != "access" || vars[4].value != "scanner" {
			t.Fatalf("obSourceBlacklisted varbinds = %v", vars)
		}
		if err := a.Notify(ctx, AccountBlocked{Account: "alice", Realm: "access", Reason: "international calls_per_hour"}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		vars = sink.await(t, notificationOID(trapAccountBlocked))
		if len(vars) < 5 || vars[2].value != "alice" || vars[3].value != "access" || vars[4].value != "international calls_per_hour" {
			t.Fatalf("obAccountBlocked varbinds = %v", vars)
		}
	})

	t.Run("reconnect after snmpd restart", func(t *testing.T) {
		before := a.Stats().Sessions
		d.kill()
		deadline := time.Now().Add(10 * time.Second)
		for a.Connected() {
			if time.Now().After(deadline) {
				t.Fatal("agent still reports a session after snmpd died")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := a.Notify(context.Background(), Overload{}); err == nil {
			t.Fatal("Notify succeeded without a master agent")
		}
		d.start()
		waitConnected(t, a, before+1)
		activeCalls.Store(77) // the source is read again per request
		out, err := run(t, tools["snmpget"], append(v2c, root+".1.4.1.0")...)
		if err != nil {
			t.Fatalf("snmpget after restart: %v\n%s", err, out)
		}
		if ls := parseLines(t, out); len(ls) != 1 || ls[0].value != "77" {
			t.Fatalf("after restart: %s", out)
		}
	})
}

// checkWalk asserts that a walk of the subtree returned every object of
// the snapshot, in strictly increasing order, with the right values.
func checkWalk(t *testing.T, ls []walkLine, snap *Snapshot) {
	t.Helper()
	// 6 system + realm count + 4 columns x 2 realms + trunk count +
	// 6 columns x 3 trunks + 4 calls + 4 media + 6 capacity.
	if len(ls) != 6+1+8+1+18+14 {
		t.Fatalf("walk returned %d objects, want 48", len(ls))
	}
	for i := 1; i < len(ls); i++ {
		if ls[i-1].oid.Compare(ls[i].oid) >= 0 {
			t.Fatalf("walk not increasing at %s then %s", ls[i-1].oid, ls[i].oid)
		}
	}
	r := Subtree.String()
	want := map[string]string{
		r + ".1.1.1.0":     "STRING:1.4.2-test",
		r + ".1.1.2.0":     "Timeticks:(123456) 0:20:34.56",
		r + ".1.1.3.0":     "STRING:sha256:5f1c0ffee",
		r + ".1.1.4.0":     "Hex-STRING:07 EA 03 0E 0F 09 1A 05 2B 00 00 ",
		r + ".1.1.5.0":     "INTEGER:3",
		r + ".1.1.6.0":     "STRING:trunks[2].gateways: empty",
		r + ".1.2.1.0":     "Gauge32:2",
		r + ".1.2.2.1.2.1": "STRING:access",
		r + ".1.2.2.1.2.2": "STRING:core",
		r + ".1.2.2.1.3.1": "STRING:udp,tcp,ws",
		r + ".1.2.2.1.4.2": "STRING:127.0.0.1:5080",
		r + ".1.2.2.1.5.1": "Gauge32:9",
		r + ".1.3.1.0":     "Gauge32:3",
		r + ".1.3.2.1.2.1": "STRING:carrier-b",
		r + ".1.3.2.1.3.2": "INTEGER:1",
		r + ".1.3.2.1.3.3": "INTEGER:2",
		r + ".1.3.2.1.4.1": "Gauge32:3",
		r + ".1.3.2.1.5.1": "Gauge32:2",
		r + ".1.3.2.1.6.1": "Gauge32:7100",
		r + ".1.3.2.1.7.2": "Gauge32:5",
		r + ".1.4.1.0":     "Gauge32:" + strconv.Itoa(int(snap.Calls.Active)),
		r + ".1.4.2.0":     "Counter64:1099511627776",
		r + ".1.4.3.0":     "Counter64:31337",
		r + ".1.4.4.0":     "Counter64:4242",
		r + ".1.5.1.0":     "Gauge32:18",
		r + ".1.5.2.0":     "Counter64:9876543210",
		r + ".1.5.3.0":     "Counter64:1234",
		r + ".1.5.4.0":     "Gauge32:432",
		r + ".1.6.1.0":     "Gauge32:10000",
		r + ".1.6.2.0":     "Gauge32:36",
		r + ".1.6.3.0":     "Gauge32:2000",
		r + ".1.6.4.0":     "Gauge32:5000",
		r + ".1.6.5.0":     "INTEGER:2",
		r + ".1.6.6.0":     "Gauge32:73",
	}
	got := map[string]string{}
	for _, l := range ls {
		got[l.oid.String()] = l.typ + ":" + l.value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
