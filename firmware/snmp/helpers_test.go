package snmp

import (
	"fmt"
	"net"
	"testing"

	"github.com/openborder/openborder/test/testenv"
)

// requireTools returns the paths of external programs (see testenv for a
// missing one).
func requireTools(t *testing.T, names ...string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = testenv.RequireTool(t, n)
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
