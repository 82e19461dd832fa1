package snmp

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// requireTools fails the test in CI and skips it elsewhere when one of the
// external programs is missing.
func requireTools(t *testing.T, names ...string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			// snmpd lives in /usr/sbin, which is not always on PATH.
			if _, serr := os.Stat("/usr/sbin/" + n); serr == nil {
				p, err = "/usr/sbin/"+n, nil
			}
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (Debian packages snmpd, snmp, smitools): %v", n, err)
			}
			t.Skipf("%s not installed: %v", n, err)
		}
		paths[n] = p
	}
	return paths
}

// freePort returns a loopback port that was free for the network a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	panic(fmt.Sprintf("network %q", network))
}
