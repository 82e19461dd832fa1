//go:build cgo

package e2e

import (
	"context"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/policy"
)

// g722Ear receives a G.722-only caller's RTP and keeps the decoded
// 16 kHz audio of payload type 9 with each frame's arrival.
type g722Ear struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	pcm     []int16
	arrival []time.Time
	pts     map[uint8]int
	done    chan struct{}
}

func newG722Ear(t *testing.T, ip string, port int) *g722Ear {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	g := &g722Ear{conn: c, pts: map[uint8]int{}, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		dec := g722.NewDecoder()
		buf := make([]byte, 1500)
		pcm := make([]int16, 4000)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[0]>>6 != 2 || buf[1]&0x7f >= 72 && buf[1]&0x7f <= 76 {
				continue
			}
			pt := buf[1] & 0x7f
			g.mu.Lock()
			g.pts[pt]++
			if pt == 9 {
				if k, err := dec.Decode(pcm, buf[12:n]); err == nil {
					g.pcm = append(g.pcm, pcm[:k]...)
					g.arrival = append(g.arrival, time.Now())
				}
			}
			g.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-g.done })
	return g
}

// TestRingbackTranscodedCaller: a G.722-only caller calls through a
// PCMU-only trunk whose callee rings (180 without SDP) for 1.5 s. sbcd
// plays the local ringback (DE: 425 Hz, 1 s on) in G.722, the caller's
// own codec, then the call is answered and transcoded.
func TestRingbackTranscodedCaller(t *testing.T) {
	t.Parallel()
	const netN = 116
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	cfg.Realms[0].Media.Codecs = []string{"G722"}
	cfg.Realms[0].Media.Tones = "DE"
	cfg.Realms[0].Media.Ringback = policy.RingbackLocal
	cfg.Trunks[0].Codecs = []string{"PCMU"}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	callee := newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)
	callee.ring = 1500 * time.Millisecond
	ip := topo.CallerIP(0)
	ear := newG722Ear(t, ip, CallerMediaPort)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer := fmt.Appendf(nil, "v=0\r\no=g722 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 9\r\n"+
		"a=rtpmap:9 G722/8000\r\na=ptime:20\r\na=sendrecv\r\n", ip, ip, CallerMediaPort)
	answer, err := caller.Call(ctx, "1000", topo.AccessSIP(), offer)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, sbcd.Dump(30))
	}
	answered := time.Now()
	if m := sdpAudioRE.FindSubmatch(answer); m == nil || strings.TrimSpace(string(m[3])) != "9" {
		t.Errorf("answer to the G.722 caller:\n%s", answer)
	}
	defer func() { _ = caller.Hangup(ctx) }()
	ear.mu.Lock()
	var before []int16
	for i, at := range ear.arrival {
		if at.Before(answered) && (i+1)*320 <= len(ear.pcm) {
			before = append(before, ear.pcm[i*320:(i+1)*320]...)
		}
	}
	pts := ear.pts
	ear.mu.Unlock()
	if len(before) < 16000*8/10 { // the first 1 s burst, most of it
		t.Fatalf("%d ms of G.722 ringback before the answer (payload types %v)\n%s", len(before)/16, pts, sbcd.Dump(30))
	}
	burst := before[1600:14400] // inside the first 1 s burst
	share := toneShare(burst, 425, 16000)
	var rms float64
	for _, v := range burst {
		rms += float64(v) * float64(v)
	}
	rms = math.Sqrt(rms / float64(len(burst)))
	t.Logf("ringback in G.722: %d ms before the answer, 425 Hz share %.3f, RMS %.0f", len(before)/16, share, rms)
	if share < 0.9 || rms < 300 {
		t.Errorf("425 Hz carries %.2f of the burst (RMS %.0f); want >= 0.9 of an audible tone", share, rms)
	}
}
