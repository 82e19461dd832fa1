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
