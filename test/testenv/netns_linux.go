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
	InNamedNetns(t, ns, fn)
}

// InNamedNetns runs fn on an OS thread inside the existing network
// namespace ns (one of `ip netns list`); sockets fn opens stay there.
// The thread is discarded afterwards.
func InNamedNetns(t testing.TB, ns string, fn func()) {
	t.Helper()
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

// RemoteHost makes, from the calling thread's network namespace (call it
// inside InNetns), a namespace name that stands for another host: a veth
// pair joins them, the local end localIf with address local, the remote
// end with the addresses remote, both up. It is deleted when the test
// ends. (Made from the thread, not through ip netns exec, which would
// make it in a mount namespace of its own.)
func RemoteHost(t testing.TB, name, localIf, local string, remote ...string) {
	t.Helper()
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	in := func(args ...string) []string { return append([]string{"ip", "netns", "exec", name}, args...) }
	cmds := [][]string{
		{"ip", "netns", "add", name},
		{"ip", "link", "add", localIf, "type", "veth", "peer", "name", "peer0", "netns", name},
		{"ip", "addr", "add", local, "dev", localIf},
		{"ip", "link", "set", localIf, "up"},
		in("ip", "link", "set", "lo", "up"),
		in("ip", "link", "set", "peer0", "up"),
	}
	for _, a := range remote {
		cmds = append(cmds, in("ip", "addr", "add", a, "dev", "peer0"))
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
}
