package cdr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Files: FileConfig{Dir: "/x"}, RADIUS: RADIUSConfig{Retries: -1}}.WithDefaults()
	f, r := c.Files, c.RADIUS
	if f.Name != "cdr" || len(f.Formats) != 1 || f.Formats[0] != FormatCSV || f.MaxSize != 64<<20 ||
		f.RotateInterval != 24*time.Hour || f.MaxDelay != 0 || f.MaxBatch != 1024 {
		t.Errorf("files %+v", f)
	}
	if r.Timeout != 2*time.Second || r.Retries != 0 || r.QueueSize != 1024 || r.SpoolMaxBytes != 64<<20 ||
		r.RetryInterval != 10*time.Second || r.NASIdentifier != "sbcd" || r.InterimInterval != 0 {
		t.Errorf("radius %+v", r)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	server := []RADIUSServer{{Address: "127.0.0.1:1813", Secret: "s"}}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"files ok", Config{Files: FileConfig{Dir: "d", Formats: []Format{FormatCSV, FormatJSONL}, RotateInterval: time.Hour}}, nil},
		{"radius ok", Config{RADIUS: RADIUSConfig{Servers: server, SpoolDir: "s", InterimInterval: time.Minute, NASIPAddress: "192.0.2.1"}}, nil},
		{"bad format", Config{Files: FileConfig{Dir: "d", Formats: []Format{"xml"}}}, []string{`files.formats[0]: "xml" is not csv or jsonl`}},
		{"format twice", Config{Files: FileConfig{Dir: "d", Formats: []Format{FormatCSV, FormatCSV}}}, []string{"files.formats[1]"}},
		{"bad name", Config{Files: FileConfig{Dir: "d", Name: "a/b"}}, []string{"files.name"}},
		{"short interval", Config{Files: FileConfig{Dir: "d", RotateInterval: time.Millisecond}}, []string{"files.rotate_interval"}},
		{"long delay", Config{Files: FileConfig{Dir: "d", MaxDelay: time.Minute}}, []string{"files.max_delay"}},
		{"negative batch", Config{Files: FileConfig{Dir: "d", MaxBatch: -1}}, []string{"files.max_batch"}},
		{"server without port", Config{RADIUS: RADIUSConfig{Servers: []RADIUSServer{{Address: "localhost", Secret: "s"}}, SpoolDir: "s"}}, []string{"radius.servers[0].address"}},
		{"server bad port", Config{RADIUS: RADIUSConfig{Servers: []RADIUSServer{{Address: "localhost:0", Secret: "s"}}, SpoolDir: "s"}}, []string{"radius.servers[0].address"}},
		{"no secret, no spool", Config{RADIUS: RADIUSConfig{Servers: []RADIUSServer{{Address: "h:1813"}}}}, []string{"radius.servers[0].secret: required", "radius.spool_dir: required"}},
		{"many problems", Config{
			Files:  FileConfig{Dir: "d", Formats: []Format{"x"}},
			RADIUS: RADIUSConfig{Servers: server, SpoolDir: "s", Timeout: -1, Retries: 11, InterimInterval: time.Millisecond, NASIPAddress: "::1"},
		}, []string{"files.formats[0]", "radius.timeout", "radius.retries", "radius.interim_interval", "radius.nas_ip_address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%v", n, len(tt.want), err)
			}
		})
	}
}
