package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// OIDs of OPENBORDER-MIB (enterprise 99999 until a PEN is registered).
const (
	oidOB          = "1.3.6.1.4.1.99999.1"
	oidConfigHash  = oidOB + ".1.3.0"
	oidRealms      = oidOB + ".2"
	oidCallsAnswer = oidOB + ".4.3.0"
)

func freeLoopbackPort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSnmpd runs a private net-snmp master agent on loopback and returns
// its SNMP and AgentX ports.
func startSnmpd(t *testing.T, trapPort int) (snmpPort, axPort int) {
	t.Helper()
	bin := RequireTool(t, "snmpd")
	dir := t.TempDir()
	snmpPort, axPort = freeLoopbackPort(t, "udp"), freeLoopbackPort(t, "tcp")
	conf := filepath.Join(dir, "snmpd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("master agentx\nagentXSocket tcp:127.0.0.1:%d\nrocommunity e2e 127.0.0.1\ntrap2sink 127.0.0.1:%d e2e\n",
		axPort, trapPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-f", "-Lo", "-C", "-c", conf, "-p", filepath.Join(dir, "pid"), fmt.Sprintf("udp:127.0.0.1:%d", snmpPort))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(dir, "persist"), "MIBS=")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", axPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return snmpPort, axPort
		}
		if time.Now().After(deadline) {
			t.Fatalf("snmpd did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func snmpRun(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, _ := exec.Command(RequireTool(t, tool), args...).CombinedOutput()
	return string(out)
}

func TestSNMPThroughSnmpd(t *testing.T) {
	t.Parallel()
	RequireTool(t, "snmpget")
	traps, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer traps.Close()
	snmpPort, axPort := startSnmpd(t, traps.LocalAddr().(*net.UDPAddr).Port)
	e := newEnv(t, 23, func(c *policy.Config) { c.SNMP.AgentX = fmt.Sprintf("tcp:127.0.0.1:%d", axPort) })
	target := fmt.Sprintf("127.0.0.1:%d", snmpPort)

	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_basic.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.callEnded(cr)

	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		got = snmpRun(t, "snmpget", "-v2c", "-c", "e2e", "-On", "-t", "1", "-r", "0", target, oidCallsAnswer, oidConfigHash)
		if strings.Contains(got, oidCallsAnswer+" = Counter64: 1") {
			break
		}
	}
	if !strings.Contains(got, oidCallsAnswer+" = Counter64: 1") {
		t.Fatalf("answered calls through snmpd:\n%s", got)
	}
	hello, err := e.sbcd.WaitMsg("sbcd ready", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, hello.Str("hash")) {
		t.Errorf("config hash over SNMP is not the running policy's %s:\n%s", hello.Str("hash"), got)
	}
	walk := snmpRun(t, "snmpwalk", "-v2c", "-c", "e2e", "-On", "-t", "1", "-r", "0", target, oidRealms)
	if !strings.Contains(walk, `"access"`) || !strings.Contains(walk, `"core"`) {
		t.Errorf("realm table walk:\n%s", walk)
	}

	// A refused reload is a notification at snmpd's trap sink.
	if err := os.WriteFile(e.cfgPath, []byte("realms: [\nnot_a_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.sbcd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = traps.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := traps.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no reload-failure notification: %v", err)
		}
		if bytes.Contains(buf[:n], []byte("sbcd.yaml")) {
			break
		}
	}
}

// restartableSnmpd is a private snmpd with a v2c community, an SNMPv3
// authPriv user and a trap sink, that a test can kill and start again on
// the same ports.
type restartableSnmpd struct {
	t                *testing.T
	bin, dir, conf   string
	snmpPort, axPort int
	cmd              *exec.Cmd
	out              *bytes.Buffer
}

const (
	e2eV3User = "e2eops"
	e2eV3Auth = "e2e-auth-pass-42"
	e2eV3Priv = "e2e-priv-pass-42"
)

func newRestartableSnmpd(t *testing.T, trapPort int) *restartableSnmpd {
	t.Helper()
	d := &restartableSnmpd{t: t, bin: RequireTool(t, "snmpd"), dir: t.TempDir(),
		snmpPort: freeLoopbackPort(t, "udp"), axPort: freeLoopbackPort(t, "tcp")}
	d.conf = filepath.Join(d.dir, "snmpd.conf")
	conf := fmt.Sprintf("master agentx\nagentXSocket tcp:127.0.0.1:%d\nrocommunity e2e 127.0.0.1\n"+
		"createUser %s SHA %q AES %q\nrouser %s priv\ntrap2sink 127.0.0.1:%d e2e\n",
		d.axPort, e2eV3User, e2eV3Auth, e2eV3Priv, e2eV3User, trapPort)
	if err := os.WriteFile(d.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.kill)
	d.start()
	return d
}

func (d *restartableSnmpd) start() {
	d.t.Helper()
	d.out = &bytes.Buffer{}
	cmd := exec.Command(d.bin, "-f", "-Lo", "-C", "-c", d.conf, "-p", filepath.Join(d.dir, "pid"), fmt.Sprintf("udp:127.0.0.1:%d", d.snmpPort))
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+filepath.Join(d.dir, "persist"), "MIBS=")
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.axPort), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("snmpd did not start: %v\n%s", err, d.out.String())
		}
	}
}

// kill ends snmpd abruptly, as a crash would.
func (d *restartableSnmpd) kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}

func (d *restartableSnmpd) target() string { return fmt.Sprintf("127.0.0.1:%d", d.snmpPort) }

// v3 runs an SNMPv3 authPriv (SHA/AES) tool against snmpd.
func (d *restartableSnmpd) v3(tool string, oids ...string) string {
	d.t.Helper()
	args := append([]string{"-v3", "-l", "authPriv", "-u", e2eV3User, "-a", "SHA", "-A", e2eV3Auth, "-x", "AES", "-X", e2eV3Priv,
		"-On", "-t", "1", "-r", "0", d.target()}, oids...)
	return snmpRun(d.t, tool, args...)
}

// awaitTrap reads the trap sink until a packet holds one of the markers;
// it returns the marker seen and how many packets held each marker.
func awaitTrap(t *testing.T, sink net.PacketConn, within time.Duration, seen map[string]int, markers ...string) string {
	t.Helper()
	buf := make([]byte, 8192)
	_ = sink.SetReadDeadline(time.Now().Add(within))
	for {
		n, _, err := sink.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no notification with %q within %v: %v (seen %v)", markers, within, err, seen)
		}
		for _, m := range markers {
			if bytes.Contains(buf[:n], []byte(m)) {
				seen[m]++
				return m
			}
		}
	}
}

// TestSNMPOverloadV3AndSnmpdRestart: with SNMPv3 authPriv through a real
// snmpd, a burst of calls refused by admission control raises one
// obOverload (not one per refusal) and, once the refusals stop, one
// obOverloadCleared; obCapOverloadState follows. Then snmpd is killed and
// started again, and sbcd's subtree answers again without touching sbcd.
func TestSNMPOverloadV3AndSnmpdRestart(t *testing.T) {
	t.Parallel()
	RequireTool(t, "snmpget")
	RequireTool(t, "snmpwalk")
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	d := newRestartableSnmpd(t, sink.LocalAddr().(*net.UDPAddr).Port)
	e := newEnv(t, 100, func(c *policy.Config) {
		c.SNMP.AgentX = fmt.Sprintf("tcp:127.0.0.1:%d", d.axPort)
		c.SNMP.Overload = policy.OverloadConfig{Interval: time.Second, Raise: 5, Clear: 1, ClearAfter: 2 * time.Second}
		c.Realms[0].Limits = policy.LimitsConfig{MaxCPS: 1}
	})
	const (
		oidOverloadState = oidOB + ".6.5.0"
		oidShedRate      = oidOB + ".6.6.0"
		oidAttempts      = oidOB + ".4.2.0"
	)
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = d.v3("snmpget", oidOverloadState, oidShedRate); strings.Contains(got, oidOverloadState+" = INTEGER: 1") {
			break
		}
	}
	if !strings.Contains(got, oidOverloadState+" = INTEGER: 1") || !strings.Contains(got, oidShedRate+" = Gauge32: 0") {
		t.Fatalf("v3 authPriv get before the burst, want normal(1) and 0 refusals/s:\n%s", got)
	}
	walk := d.v3("snmpwalk", oidOB)
	for _, want := range []string{`"access"`, `"pbx"`, oidOB + ".6.1.0 = Gauge32:", oidOB + ".5.4.0 = Gauge32:"} {
		if !strings.Contains(walk, want) {
			t.Errorf("v3 authPriv walk lacks %q:\n%s", want, walk)
		}
	}

	// 30 calls at 30/s against a realm admitting 1 call/s: about 29 are
	// refused with 503 within a second or two.
	e.callee("callee", "uas_reject_503.xml", 0, func(o *SippOpts) { o.Calls = 30 })
	burst := e.caller("burst", "uac_reject_503.xml", 0, func(o *SippOpts) { o.Calls = 30; o.Rate = 30 }).Wait(t)
	if n := len(burst.Responses(false, 503, "INVITE")); n < 25 {
		t.Fatalf("%d of 30 calls got 503, want nearly all refused by admission control", n)
	}
	seen := map[string]int{}
	if m := awaitTrap(t, sink, 10*time.Second, seen, "shedding load", "load shedding ended"); m != "shedding load" {
		t.Fatalf("first notification is %q, want obOverload", m)
	}
	if m := awaitTrap(t, sink, 10*time.Second, seen, "shedding load", "load shedding ended"); m != "load shedding ended" {
		t.Fatalf("second notification is %q, want obOverloadCleared (one obOverload per episode)", m)
	}
	if got := d.v3("snmpget", oidOverloadState); !strings.Contains(got, oidOverloadState+" = INTEGER: 1") {
		// The subagent caches a snapshot for a second.
		time.Sleep(1100 * time.Millisecond)
		if got = d.v3("snmpget", oidOverloadState); !strings.Contains(got, oidOverloadState+" = INTEGER: 1") {
			t.Errorf("obCapOverloadState after the clear:\n%s", got)
		}
	}
	if _, err := e.sbcd.WaitMsg("overload: shedding load", time.Second); err != nil {
		t.Error(err)
	}

	// snmpd dies and comes back: the subagent reconnects and registers again.
	d.kill()
	d.start()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got = d.v3("snmpget", oidAttempts); strings.Contains(got, oidAttempts+" = Counter64: 30") {
			return
		}
	}
	t.Fatalf("after the snmpd restart the subtree does not answer (want 30 attempts):\n%s", got)
}
