//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// twoHostsSetup are the commands (run in sbcd's namespace, ns) that make
// the peers' namespace peers and the veth pair between them.
func twoHostsSetup(ns, peers string) [][]string {
	in := func(args ...string) []string { return append([]string{"ip", "netns", "exec", peers}, args...) }
	return [][]string{
		{"ip", "netns", "add", peers},
		{"ip", "netns", "exec", ns, "ip", "link", "add", relayVeth, "type", "veth", "peer", "name", peersVeth, "netns", peers},
		{"ip", "netns", "exec", ns, "ip", "addr", "add", twoHostsRelay.String() + "/24", "dev", relayVeth},
		{"ip", "netns", "exec", ns, "ip", "link", "set", relayVeth, "up"},
		// The conntrack path forwards packets between hosts.
		{"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		in("ip", "link", "set", "lo", "up"),
		in("ip", "addr", "add", twoHostsPeers.String()+"/24", "dev", peersVeth),
		in("ip", "link", "set", peersVeth, "up"),
	}
}

// peersThread runs functions on one OS thread inside the peers'
// namespace (sockets opened there stay there).
var peersThread struct {
	once sync.Once
	jobs chan func()
	err  error
}

// inPeersNS runs fn in the namespace the calls' sockets belong to.
func inPeersNS(fn func()) error {
	if hosts.ns == "" {
		fn()
		return nil
	}
	pt := &peersThread
	pt.once.Do(func() {
		pt.jobs = make(chan func())
		ready := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread stays in the namespace
			f, err := os.Open("/var/run/netns/" + hosts.ns)
			if err == nil {
				err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
				f.Close()
			}
			ready <- err
			if err != nil {
				return
			}
			for job := range pt.jobs {
				job()
			}
		}()
		if err := <-ready; err != nil {
			pt.err = fmt.Errorf("peers' namespace %s: %w", hosts.ns, err)
		}
	})
	if pt.err != nil {
		return pt.err
	}
	done := make(chan struct{})
	pt.jobs <- func() { fn(); close(done) }
	<-done
	return nil
}
