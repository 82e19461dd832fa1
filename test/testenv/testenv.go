// Package testenv is the one place tests decide what a missing peer tool
// or a missing environment means: a skip on a developer's machine, a
// failure in CI (CI=true), never a silent skip there.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipUnlessCI skips the test with the message, or fails it in CI.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set CI=true to make this a failure)", args...)
}

// RequireTool returns the path of an external peer program, looked up in
// PATH and then in /usr/sbin (daemons such as snmpd and freeradius live
// there and it is not always on PATH).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	SkipUnlessCI(t, "%s is not installed (the Makefile's test packages install it)", name)
	return ""
}

// RequireFile checks that a file a test needs exists.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		SkipUnlessCI(t, "%s is required: %v", path, err)
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
