package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/e2e"
)

// startNodes starts o.nodes media nodes (sbcd -media-only) and points the
// signalling config at them. Node n anchors media on its own addresses of
// each realm's network (host 100+n), so every node has the whole port range.
func startNodes(o options, topo e2e.Topology, signalling *policy.Config) ([]*e2e.Sbcd, error) {
	var nodes []*e2e.Sbcd
	for n := range o.nodes {
		cfg := e2e.BenchConfig(topo)
		for i := range cfg.Realms {
			cfg.Realms[i].Media.Address = fmt.Sprintf("127.%d.%d.%d", topo.Net, i+1, 100+n)
		}
		ng := fmt.Sprintf("127.%d.2.%d:2223", topo.Net, 100+n)
		cfg.Media.NG = ng
		path := filepath.Join(o.dir, fmt.Sprintf("node%d.yaml", n))
		if err := e2e.WriteConfig(path, cfg); err != nil {
			return nodes, err
		}
		s, err := e2e.StartSbcdCmd(o.sbcd, path, "-media-only", "-log-level", "info")
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, s)
		if _, err := s.WaitMsg("sbcd ready", 10*time.Second); err != nil {
			return nodes, fmt.Errorf("media node %d: %w\n%s", n, err, s.Dump(20))
		}
		signalling.Media.Nodes = append(signalling.Media.Nodes, ng)
	}
	return nodes, nil
}

// totalRSS sums the resident memory of the processes, KiB.
func totalRSS(pids []int) (int64, error) {
	var sum int64
	for _, p := range pids {
		r, _, err := memory(p)
		if err != nil {
			return 0, err
		}
		sum += r
	}
	return sum, nil
}
