package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check-config", "../../configs/default.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "OK") {
		t.Errorf("stdout %q", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"check-config", "../../policy/testdata/unknown_key.bad.yaml"}, &out, &errb); code != 1 {
		t.Errorf("bad file: exit %d, want 1", code)
	}
	if code := run([]string{"check-config"}, &out, &errb); code != 2 {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func TestHealthUnreachable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-admin", "127.0.0.1:1", "health"}, &out, &errb); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "not reachable") {
		t.Errorf("stderr %q", errb.String())
	}
}
