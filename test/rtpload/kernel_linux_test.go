//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openborder/openborder/test/testenv"
)

// TestKernelSRTPThroughSbcd: sbcd as a process, in a network namespace
// of its own with kernel forwarding on, its peers on loopback or (with
// -two-hosts) behind a veth pair in a second namespace. Every SDES-SRTP <-> RTP call is
// handed to the in-kernel program, which carries the packets both ways
// by itself: after the hand-over none reaches sbcd (the relay would drop
// it, and the run would count it lost), none arrives on the wrong stream
// or fails its authentication, and the program's counters reach sbcd's
// metrics.
func TestKernelSRTPThroughSbcd(t *testing.T) {
	testenv.RequireTool(t, "ip")
	testenv.RequireTool(t, "iptables")
	if os.Geteuid() != 0 {
		testenv.SkipUnlessCI(t, "needs root (network namespace, BPF)")
	}
	// The tool runs as a process of its own: -netns moves the whole
	// process (every thread: the HTTP client's dials too) into the
	// namespace.
	bin := filepath.Join(t.TempDir(), "rtpload")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mode := range []struct{ name, flag string }{{"loopback", ""}, {"two hosts", "-two-hosts"}} {
		t.Run(mode.name, func(t *testing.T) {
			args := []string{"-netns", "-kernel", "on", "-srtp", "sdes", "-calls", "10", "-duration", "3s",
				"-port-min", "47000", "-port-max", "47999", "-max-loss", "1"}
			if mode.flag != "" {
				args = append(args, mode.flag)
			}
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("rtpload: %v\n%s", err, out)
			}
			checkKernelSRTPRun(t, out)
		})
	}
}

// checkKernelSRTPRun checks a run's result line: every call in the
// kernel, the packets counted there, no loss beyond the hand-overs, no
// misrouted packet, no authentication failure.
func checkKernelSRTPRun(t *testing.T, out []byte) {
	t.Helper()
	var res kv
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "mode=relay ") {
			res.b.WriteString(l)
		}
	}
	t.Log(res.String())
	num := func(key string) float64 {
		v, ok := res.get(key)
		if !ok {
			t.Fatalf("%s missing from the output:\n%s", key, out)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s=%s: %v", key, v, err)
		}
		return f
	}
	sent := num("sent")
	switch {
	case num("kernel_srtp_streams") != 10:
		t.Fatalf("%v SRTP streams in the kernel, want 10", num("kernel_srtp_streams"))
	case num("kernel_failures") != 0:
		t.Fatal("the kernel refused streams")
	case num("kernel_packets") < 0.8*sent:
		t.Fatalf("the kernel counted %v of %v packets", num("kernel_packets"), sent)
	case num("lost") > 0.002*sent:
		t.Fatalf("%v of %v packets lost", num("lost"), sent)
	case num("misrouted") > 0 || num("srtp_auth_failures") > 0:
		t.Fatalf("%v misrouted, %v failed authentication", num("misrouted"), num("srtp_auth_failures"))
	}
}
