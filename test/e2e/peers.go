package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where a missing peer
// tool is a failure instead of a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of an external peer program. When it is
// missing the test is skipped, or fails in CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("%s is required in CI but not found in PATH: %v", name, err)
	}
	t.Skipf("%s not found in PATH, skipping (set CI=true to make this a failure)", name)
	return ""
}

// RequireFile skips (or fails in CI) when a file a peer needs is missing,
// e.g. the audio capture sipp plays.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	} else if InCI() {
		t.Fatalf("%s is required in CI: %v", path, err)
	} else {
		t.Skipf("%s missing, skipping: %v", path, err)
	}
}
