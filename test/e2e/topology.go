package e2e

import (
	"fmt"
	"os"
	"time"

	"github.com/openborder/openborder/policy"
	"gopkg.in/yaml.v3"
)

// Fixed ports of the test topology; addresses differ per test network.
const (
	AccessSIPPort   = 5060
	CoreSIPPort     = 5080
	CallerPort      = 5061
	GatewayPort     = 5090
	CallerMediaPort = 6000
	CalleeMediaPort = 7000
	AccessMediaMin  = 30000
	AccessMediaMax  = 30999
	CoreMediaMin    = 31000
	CoreMediaMax    = 31999
)

// Topology is one test's loopback network 127.<Net>.0.0/16.
type Topology struct {
	// Net is the second octet, 0-255; each parallel test has its own.
	Net int
}

func (t Topology) ip(realm, host int) string { return fmt.Sprintf("127.%d.%d.%d", t.Net, realm, host) }

// AccessIP is sbcd's access realm address (SIP and media).
func (t Topology) AccessIP() string { return t.ip(1, 1) }

// CoreIP is sbcd's core realm address (SIP and media).
func (t Topology) CoreIP() string { return t.ip(2, 1) }

// AccessSIP is the access realm listener, the caller's target.
func (t Topology) AccessSIP() string { return fmt.Sprintf("%s:%d", t.AccessIP(), AccessSIPPort) }

// CoreSIP is the core realm listener.
func (t Topology) CoreSIP() string { return fmt.Sprintf("%s:%d", t.CoreIP(), CoreSIPPort) }

// CallerIP is the i-th caller's address (0 is the main caller).
func (t Topology) CallerIP(i int) string { return t.ip(1, 10+i) }

// GatewayIP is the i-th gateway of trunk pbx (0: priority 1, 1: priority 2).
func (t Topology) GatewayIP(i int) string { return t.ip(2, 10+i) }

// Gateway is the i-th gateway's SIP address.
func (t Topology) Gateway(i int) string { return fmt.Sprintf("%s:%d", t.GatewayIP(i), GatewayPort) }

// AccessIdentifiers are the addresses only the access side may see.
func (t Topology) AccessIdentifiers(callers int) []string {
	ids := []string{t.AccessIP(), t.AccessSIP()}
	for i := 0; i < callers; i++ {
		ids = append(ids, t.CallerIP(i), fmt.Sprintf("%s:%d", t.CallerIP(i), CallerPort))
	}
	return ids
}

// CoreIdentifiers are the addresses only the core side may see.
func (t Topology) CoreIdentifiers(gateways int) []string {
	ids := []string{t.CoreIP(), t.CoreSIP()}
	for i := 0; i < gateways; i++ {
		ids = append(ids, t.GatewayIP(i), t.Gateway(i))
	}
	return ids
}

// Config returns the sbcd configuration of the topology: realms access and
// core, trunk pbx with one gateway, a route from access to pbx, JSON debug
// logs, a 3 s INVITE timeout, a 5 s drain and 90 s session timers.
func (t Topology) Config() *policy.Config {
	return &policy.Config{
		Log: policy.LogConfig{Level: "debug", Format: "json"},
		SIP: policy.SIPConfig{
			InviteTimeout:  3 * time.Second,
			DrainTimeout:   5 * time.Second,
			SessionExpires: 90 * time.Second,
		},
		Realms: []policy.RealmConfig{
			{
				Name:      "access",
				Listeners: []policy.ListenerConfig{{Transport: "udp", Address: t.AccessSIP()}},
				Media:     policy.RealmMediaConfig{Address: t.AccessIP(), PortMin: AccessMediaMin, PortMax: AccessMediaMax},
			},
			{
				Name:      "core",
				Listeners: []policy.ListenerConfig{{Transport: "udp", Address: t.CoreSIP()}},
				Media:     policy.RealmMediaConfig{Address: t.CoreIP(), PortMin: CoreMediaMin, PortMax: CoreMediaMax},
			},
		},
		Trunks: []policy.TrunkConfig{{
			Name:     "pbx",
			Realm:    "core",
			Gateways: []policy.GatewayConfig{{Address: t.Gateway(0), Transport: "udp", Priority: 1}},
		}},
		Routes: []policy.RouteConfig{{
			Name:   "access-to-pbx",
			Match:  policy.MatchConfig{SourceRealm: "access"},
			Trunks: []string{"pbx"},
		}},
	}
}

// MarshalConfig renders a configuration as YAML, leaving out every field
// that holds its zero value (the schema's "use the default").
func MarshalConfig(cfg *policy.Config) ([]byte, error) {
	full, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("marshal config: %w", err)
	}
	var tree any
	if err := yaml.Unmarshal(full, &tree); err != nil {
		return nil, fmt.Errorf("re-read config: %w", err)
	}
	tree, _ = prune(tree)
	out, err := yaml.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("marshal pruned config: %w", err)
	}
	return out, nil
}

// WriteConfig writes cfg as YAML to path.
func WriteConfig(path string, cfg *policy.Config) error {
	b, err := MarshalConfig(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// prune drops zero values from a decoded YAML tree; the bool reports
// whether v itself is empty. Map keys keep their order (yaml.v3 sorts them
// on output anyway).
func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return x, x == "" || x == "0s"
	case int:
		return x, x == 0
	case float64:
		return x, x == 0
	case bool:
		return x, !x
	case map[string]any:
		for k, e := range x {
			pe, empty := prune(e)
			if empty {
				delete(x, k)
				continue
			}
			x[k] = pe
		}
		return x, len(x) == 0
	case []any:
		var out []any
		for _, e := range x {
			if pe, empty := prune(e); !empty {
				out = append(out, pe)
			}
		}
		return out, len(out) == 0
	default:
		return v, false
	}
}

// BenchConfig is the configuration of the load tool: the e2e topology with
// info-level JSON logs (no per-message debug output).
func BenchConfig(t Topology) *policy.Config {
	cfg := t.Config()
	cfg.Log.Level = "info"
	cfg.SIP.InviteTimeout = 0
	cfg.SIP.DrainTimeout = 0
	cfg.SIP.SessionExpires = 0
	// Room for thousands of calls: each call holds a port pair per realm
	// for its length plus media.port_drain.
	for i := range cfg.Realms {
		cfg.Realms[i].Media.PortMin = 10000
		cfg.Realms[i].Media.PortMax = 59999
	}
	return cfg
}
