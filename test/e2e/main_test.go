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
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sbcd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sbcdBin, buildErr = buildSbcd(dir)
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
