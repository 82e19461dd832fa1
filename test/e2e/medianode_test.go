package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// Media node pools: the same realm addresses as the signalling sbcd, ports
// of their own, so the SDP shows which process anchored a call.
const (
	nodeAccessMin, nodeAccessMax = 32000, 32999
	nodeCoreMin, nodeCoreMax     = 33000, 33999
)

// startMediaNode starts sbcd -media-only on the topology's realm addresses
// with its own port ranges and control socket.
func startMediaNode(t *testing.T, topo Topology, ngAddr string) *Sbcd {
	t.Helper()
	cfg := topo.Config()
	cfg.Media.NG = ngAddr
	cfg.Realms[0].Media.PortMin, cfg.Realms[0].Media.PortMax = nodeAccessMin, nodeAccessMax
	cfg.Realms[1].Media.PortMin, cfg.Realms[1].Media.PortMax = nodeCoreMin, nodeCoreMax
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := WriteConfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	return StartSbcd(t, needSbcd(t), path, "-media-only")
}

// TestRemoteMediaNode: sbcd anchors a call's media on a separate media node
// over the ng protocol; RTP flows both ways through the node, and the
// node's statistics reach the call's end record.
func TestRemoteMediaNode(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	topo := Topology{Net: 70}
	ngAddr := fmt.Sprintf("%s:2223", topo.CoreIP())
	node := startMediaNode(t, topo, ngAddr)
	e := newEnv(t, 70, func(c *policy.Config) { c.Media.Nodes = []string{ngAddr} })
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := e.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.checkLeaks([]*SippResult{cr}, []*SippResult{er})
	inv := initialInvites(er, false)
	if len(inv) != 1 {
		t.Fatalf("callee got %d INVITEs", len(inv))
	}
	checkSDP(t, "B-leg INVITE (node's core pool)", inv[0].Body, topo.CoreIP(), nodeCoreMin, nodeCoreMax)
	if oks := cr.Responses(false, 200, "INVITE"); len(oks) > 0 {
		checkSDP(t, "A-leg 200 (node's access pool)", oks[0].Body, topo.AccessIP(), nodeAccessMin, nodeAccessMax)
	}
	l := e.callEnded(cr)
	if a, b := rtpIn(t, l); a <= 0 || b <= 0 {
		t.Errorf("media node relayed a_rtp_in=%d b_rtp_in=%d, want both > 0", a, b)
	}
	if _, err := node.WaitFor(func(l LogLine) bool { return l.Str("level") == "ERROR" }, 10*time.Millisecond); err == nil {
		t.Errorf("media node logged an error:\n%s", node.Dump(50))
	}
}

// TestRemoteMediaNodeDown: with its only media node gone, sbcd refuses new
// calls with 503 instead of hanging or anchoring nothing.
func TestRemoteMediaNodeDown(t *testing.T) {
	t.Parallel()
	topo := Topology{Net: 71}
	ngAddr := fmt.Sprintf("%s:2223", topo.CoreIP())
	e := newEnv(t, 71, func(c *policy.Config) { c.Media.Nodes = []string{ngAddr} })
	callee := e.callee("callee", "uas_basic.xml", 0, nil)
	caller := e.caller("caller", "uac_reject_503.xml", 0, nil)
	cr := caller.Wait(t)
	wantExit0(t, cr)
	if n := len(callee.Stop(t).Requests(false, "INVITE")); n != 0 {
		t.Errorf("callee got %d INVITEs although no media node anchored the call", n)
	}
	if _, err := e.sbcd.WaitMsg("media node down", 5*time.Second); err != nil {
		t.Errorf("no 'media node down' log: %v", err)
	}
}
