//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/test/procstat"
)

// inNetnsEnv marks the copy of the tool that runs inside the namespace.
const inNetnsEnv = "RTPLOAD_IN_NETNS"

// runInNetns runs this tool again inside a network namespace of its own
// (root only) with loopback up, conntrack accounting on and the NAT hooks
// registered, which kernel forwarding needs, and deletes the namespace
// afterwards. Nothing outside the namespace is changed. It returns the
// copy's exit code.
func runInNetns(args []string, twoHosts bool) (int, error) {
	if os.Geteuid() != 0 {
		return 0, errors.New("-netns needs root")
	}
	ns := "rtpload" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("ip netns add %s: %w: %s", ns, err, out)
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "rtpload: ip netns del %s: %v: %s\n", ns, err, out)
		}
	}()
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1"},
		{"iptables", "-t", "nat", "-A", "OUTPUT", "-p", "udp", "--dport", "1", "-j", "ACCEPT"},
		{"iptables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, c...)...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	env := append(os.Environ(), inNetnsEnv+"=1")
	if twoHosts {
		peers := ns + "p"
		defer func() {
			if out, err := exec.Command("ip", "netns", "del", peers).CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "rtpload: ip netns del %s: %v: %s\n", peers, err, out)
			}
		}()
		for _, c := range twoHostsSetup(ns, peers) {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
			}
		}
		env = append(env, peersNSEnv+"="+peers)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	var rest []string
	for _, a := range args {
		switch a {
		case "-netns", "--netns", "-netns=true", "--netns=true", "-two-hosts", "--two-hosts", "-two-hosts=true", "--two-hosts=true":
			// done here; the copy learns of two hosts from its environment
			continue
		}
		rest = append(rest, a)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, self}, rest...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = env
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, err
	}
	return 0, nil
}

// sysBusy returns the machine's busy CPU time so far (every CPU: user,
// nice, system, irq, softirq and steal; not idle or iowait) from
// /proc/stat. On loopback the kernel's forwarding work runs in softirq
// context of whichever process sends, so only this figure sees it.
func sysBusy() (time.Duration, error) {
	busy, steal, err := procstat.MachineCPU()
	return busy + steal, err
}
