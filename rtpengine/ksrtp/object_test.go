//go:build linux

package ksrtp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openborder/openborder/test/testenv"
)

// TestObjectUpToDate rebuilds the program with the Makefile's flags and
// compares it with the committed object sbcd embeds.
func TestObjectUpToDate(t *testing.T) {
	clang := testenv.RequireTool(t, "clang-14")
	strip := testenv.RequireTool(t, "llvm-strip-14")
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for _, l := range strings.Split(string(mk), "\n") {
		if v, ok := strings.CutPrefix(l, "BPF_CFLAGS :="); ok {
			flags = strings.Fields(v)
		}
	}
	if len(flags) == 0 {
		t.Fatal("BPF_CFLAGS not found in the Makefile")
	}
	out := filepath.Join(t.TempDir(), "srtp.o")
	// The same relative source path as `make bpf`, from the repository root.
	args := append(flags, "-c", "rtpengine/ksrtp/bpf/srtp.c", "-o", out)
	for _, c := range [][]string{append([]string{clang}, args...), {strip, "-g", out}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = "../.."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, b)
		}
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, object) {
		t.Fatal("bpf/srtp.o is not what bpf/srtp.c builds to: run `make bpf` and commit the object")
	}
}
