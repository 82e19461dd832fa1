package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sbcdBin is the sbcd built once for the whole test binary; buildErr says
// why there is none.
var (
	sbcdBin  string
	buildErr error

	sbcctlBin string
	ctlErr    error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sbcd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sbcdBin, buildErr = buildSbcd(dir)
	sbcctlBin, ctlErr = buildTool(dir, "sbcctl")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSbcd builds ./cmd/sbcd from the module root (two levels up), unless
// SBCD_BIN names a binary to use.
func buildSbcd(dir string) (string, error) {
	if p := os.Getenv("SBCD_BIN"); p != "" {
		return p, nil
	}
	bin := filepath.Join(dir, "sbcd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sbcd")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sbcd: %w\n%s", err, out)
	}
	return bin, nil
}

// needSbcd returns the sbcd binary or fails the test.
func needSbcd(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("sbcd is not available: %v", buildErr)
	}
	return sbcdBin
}

// buildTool builds ./cmd/<name> into dir.
func buildTool(dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out)
	}
	return bin, nil
}

// needSbcctl returns the sbcctl binary or fails the test.
func needSbcctl(t *testing.T) string {
	t.Helper()
	if ctlErr != nil {
		t.Fatalf("sbcctl is not available: %v", ctlErr)
	}
	return sbcctlBin
}
