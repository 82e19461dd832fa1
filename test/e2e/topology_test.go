package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the committed test configs in test/sipp/configs")

func TestMarshalConfigRoundTrip(t *testing.T) {
	cfg := Topology{Net: 7}.Config()
	b, err := MarshalConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.7.1.1:5060", "127.7.2.1:5080", "127.7.2.10:5090", "invite_timeout: 3s", "source_realm: access"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `""`) || strings.Contains(string(b), "null") {
		t.Errorf("zero values not pruned:\n%s", b)
	}
	var back policy.Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("strict decode of generated config: %v\n%s", err, b)
	}
	if back.SIP.InviteTimeout != 3*time.Second || back.Realms[1].Media.PortMin != CoreMediaMin ||
		back.Trunks[0].Gateways[0].Address != "127.7.2.10:5090" {
		t.Errorf("round trip changed the config: %+v", back)
	}
}

// TestCommittedConfigs keeps test/sipp/configs/*.yaml (for running sbcd by
// hand against the scenarios) equal to what the harness generates.
func TestCommittedConfigs(t *testing.T) {
	for name, cfg := range map[string]*policy.Config{
		"e2e.yaml":   Topology{Net: 0}.Config(),
		"bench.yaml": BenchConfig(Topology{Net: 0}),
	} {
		t.Run(name, func(t *testing.T) {
			want, err := MarshalConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(SippDir(), "configs", name)
			if *update {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCommittedConfigs -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s is stale; run go test ./test/e2e -run TestCommittedConfigs -update", path)
			}
		})
	}
}
