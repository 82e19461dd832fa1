//go:build linux

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// KernelNATHooks are the commands (run inside a namespace) that turn on
// conntrack accounting and register conntrack and the NAT hooks for IPv4
// and IPv6: the set-up docs/operations.md asks of an operator who wants
// in-kernel forwarding.
var KernelNATHooks = [][]string{
	{"sh", "-c", "echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct"},
	{"iptables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "1", "-j", "ACCEPT"},
	{"iptables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
	{"ip6tables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "1", "-j", "ACCEPT"},
	{"ip6tables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
}

var netnsSeq atomic.Int64

// InNetns runs fn on an OS thread inside a fresh network namespace with
// loopback up, after running setup's commands there. The thread is
// discarded afterwards, so the test process never leaves its own
// namespace; the namespace is deleted when the test ends. Without root
// or ip(8) the test skips, or fails when CI=true.
func InNetns(t testing.TB, setup [][]string, fn func()) {
	t.Helper()
	RequireTool(t, "ip")
	if os.Geteuid() != 0 {
		SkipUnlessCI(t, "needs root (network namespace)")
	}
	ns := fmt.Sprintf("obt%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		SkipUnlessCI(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range append([][]string{{"ip", "link", "set", "lo", "up"}}, setup...) {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		fn()
	}()
	<-done
}
