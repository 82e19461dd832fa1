//go:build cgo

package e2e

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/test/audiocheck"
)

// TestTranscodedG722ToPCMA: a G.722-only caller calls through a trunk
// that takes only PCMA. sbcd offers the trunk PCMA, answers the caller
// with G.722 and transcodes both ways (16 kHz ↔ 8 kHz through the
// resampler). Each far end checks the other's tone on its last second:
// frequency within 1 Hz, level within 1.5 dB, SNR at least 25 dB.
func TestTranscodedG722ToPCMA(t *testing.T) {
	t.Parallel()
	const netN = 117
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	cfg.Realms[0].Media.Codecs = []string{"G722", "telephone-event"}
	cfg.Trunks[0].Codecs = []string{"PCMA", "telephone-event"}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	calleeMedia.alaw = true
	newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)

	ip := topo.CallerIP(0)
	const callerHz, calleeHz = 1000.0, 600.0
	a := newConfMember(t, ip, "G722", 9, callerHz)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "1000", topo.AccessSIP(), a.offer(ip))
	if err != nil {
		t.Fatalf("call: %v\n%s", err, sbcd.Dump(30))
	}
	if m := sdpAudioRE.FindSubmatch(answer); m == nil || strings.Fields(string(m[3]))[0] != "9" {
		t.Fatalf("answer to the G.722 caller:\n%s", answer)
	}
	tone, err := codecs.NewTone(8000, calleeHz, -10)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.talk(answerAddr(t, answer), 2*time.Second) })
	wg.Go(func() { calleeMedia.audio(2*time.Second, tone) })
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}

	calleeMedia.mu.Lock()
	heardB := append([]int16(nil), calleeMedia.pcm...)
	pts := fmt.Sprint(calleeMedia.pts)
	onlyPCMA := calleeMedia.pts[8] > 0 && len(calleeMedia.pts) == 1
	calleeMedia.mu.Unlock()
	if !onlyPCMA {
		t.Errorf("the PCMA trunk received payload types %s, want only 8", pts)
	}
	a.mu.Lock()
	heardA := append([]int16(nil), a.pcm...)
	a.mu.Unlock()
	for _, x := range []struct {
		who       string
		pcm       []int16
		rate      int
		freq, amp float64
	}{{"PCMA callee hears the G.722 caller", heardB, 8000, callerHz, 8000},
		{"G.722 caller hears the PCMA callee", heardA, 16000, calleeHz, tone.Amplitude()}} {
		if len(x.pcm) < x.rate {
			t.Fatalf("%s: only %d samples (payload types at the callee %v)\n%s", x.who, len(x.pcm), pts, sbcd.Dump(30))
		}
		got := audiocheck.Analyse(x.pcm[len(x.pcm)-x.rate:], x.rate)
		lvl := audiocheck.DB(got.Amplitude, x.amp)
		t.Logf("%s: %.2f Hz %+.2f dB SNR %.1f dB", x.who, got.Freq, lvl, got.SNR)
		if math.Abs(got.Freq-x.freq) > 1 || math.Abs(lvl) > 1.5 || got.SNR < 25 {
			t.Errorf("%s: %.2f Hz %+.2f dB SNR %.1f dB; want %.0f Hz within 1.5 dB, SNR >= 25 dB", x.who, got.Freq, lvl, got.SNR, x.freq)
		}
	}
}
