package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMode(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	doc := "realms:\n  - name: access\n    listeners:\n      - transport: sctp\n        address: 127.0.0.1:5060\n    bogus: 1\n"
	if err := os.WriteFile(bad, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		file    string
		code    int
		want    []string
		wantOut string
	}{
		{name: "default config", file: "../../configs/default.yaml", code: 0, wantOut: "OK (2 realms, 1 trunks)"},
		{name: "example config", file: "../../configs/example.yaml", code: 0, wantOut: "OK"},
		{name: "every problem with line and path", file: bad, code: 1, want: []string{
			"bad.yaml:4: realms[0].listeners[0].transport:",
			"bad.yaml:6: realms[0].bogus: unknown field",
		}},
		{name: "missing file", file: filepath.Join(t.TempDir(), "none.yaml"), code: 1, want: []string{"none.yaml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"-check", "-config", tc.file}, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestBadFlagsAndLogSettings(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-no-such-flag"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := run([]string{"-config", "../../configs/default.yaml", "-log-format", "xml"}, &out, &errb); code != 2 {
		t.Errorf("bad log format: exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `log format "xml"`) {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestTransportForSRTPPolicy(t *testing.T) {
	for in, want := range map[string]string{"sdes": "RTP/SAVP", "none": "RTP/AVP", "optional": "", "": "", "dtls": "UDP/TLS/RTP/SAVP"} {
		if got := transportFor(in); got != want {
			t.Errorf("transportFor(%q) = %q, want %q", in, got, want)
		}
	}
}
