package e2e

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// benchRegisterPhones is how many phones register concurrently.
const benchRegisterPhones = 8

// benchRegister measures REGISTERs answered by a real sbcd: every phone
// sends its next REGISTER when the previous one is answered. mode is
// "local" (local registrar, bindings saved in state_dir), "cached"
// (forwarding, refreshes answered from the cache), "forwarded" (every
// REGISTER relayed to a Go registrar: each uses a new Call-ID) or
// "forwarded_path" (the same with forward_mode: path, to a registrar
// that stores and echoes the Path).
func benchRegister(b *testing.B, mode string) {
	const net = 67
	topo := Topology{Net: net}
	if buildErr != nil {
		b.Fatalf("building sbcd: %v", buildErr)
	}
	bin := sbcdBin
	dir := b.TempDir()
	cfg := topo.Config()
	cfg.Log.Level = "info"
	cfg.Realms[0].Registrar = true
	cfg.Realms[0].Registration.KeepAlive = -time.Second
	var reg *registrar
	var preg *pathRegistrar
	switch mode {
	case "local":
		cfg.StateDir = filepath.Join(dir, "state")
	case "forwarded_path":
		preg = newPathRegistrar(b, topo.Gateway(1))
		cfg.Trunks = append(cfg.Trunks, policy.TrunkConfig{Name: "registrar", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}}})
		cfg.Realms[0].Registration.Forward = "registrar"
		cfg.Realms[0].Registration.ForwardMode = "path"
	default:
		reg = newRegistrar(b, topo.Gateway(1), "bench", "")
		reg.refuse.Store(0)
		cfg.Trunks = append(cfg.Trunks, policy.TrunkConfig{Name: "registrar", Realm: "core",
			Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1)}}})
		cfg.Realms[0].Registration.Forward = "registrar"
	}
	path := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(path, cfg); err != nil {
		b.Fatal(err)
	}
	s, err := StartSbcdCmd(bin, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Kill()
	if _, err := s.WaitMsg("sbcd ready", 10*time.Second); err != nil {
		b.Fatal(err)
	}
	phones := make([]*phone, benchRegisterPhones)
	for i := range phones {
		phones[i] = newPhone(b, fmt.Sprintf("u%d", i), fmt.Sprintf("%s:%d", topo.CallerIP(i), CallerPort), topo.AccessSIP())
		if res := phones[i].register(3600, ""); res.StatusCode != 200 {
			b.Fatalf("first REGISTER: %d", res.StatusCode)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, ph := range phones {
		n := b.N / benchRegisterPhones
		if i < b.N%benchRegisterPhones {
			n++
		}
		wg.Go(func() {
			for k := range n {
				if mode == "forwarded" || mode == "forwarded_path" {
					ph.callID = fmt.Sprintf("bench-%s-%d", ph.user, k)
				}
				if res := ph.register(3600, ""); res.StatusCode != 200 {
					b.Errorf("REGISTER: %d", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "registers/s")
	if reg != nil {
		got, _ := reg.counts()
		b.ReportMetric(float64(got), "upstream")
	}
	if preg != nil {
		b.ReportMetric(float64(preg.count()), "upstream")
	}
}

// BenchmarkRegisterThroughSbcd: go test ./test/e2e -run '^$' -bench RegisterThroughSbcd -benchtime 20000x
func BenchmarkRegisterThroughSbcd(b *testing.B) {
	RequireTool(b, "sipp") // the e2e environment; sipp itself is not used
	for _, mode := range []string{"local", "cached", "forwarded", "forwarded_path"} {
		b.Run(mode, func(b *testing.B) { benchRegister(b, mode) })
	}
}
