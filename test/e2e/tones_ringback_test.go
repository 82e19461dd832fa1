package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/wav"
	"github.com/openborder/openborder/policy"
)

// frameRuns splits 8 kHz audio into 20 ms frames and returns the runs
// of tone and silence in frames, starting with a tone run.
func frameRuns(pcm []int16) []int { return runsAt(pcm, 160) }

// runsAt splits audio into 20 ms frames of frame samples and returns the
// runs of tone and silence in frames, starting with a tone run.
func runsAt(pcm []int16, frame int) []int {
	var runs []int
	on, n := true, 0
	for i := 0; i+frame <= len(pcm); i += frame {
		var e float64
		for _, v := range pcm[i : i+frame] {
			e += float64(v) * float64(v)
		}
		loud := math.Sqrt(e/float64(frame)) > 100
		if len(runs) == 0 && n == 0 && !loud {
			continue // before the first burst
		}
		if loud != on {
			runs = append(runs, n)
			on, n = loud, 0
		}
		n++
	}
	return append(runs, n)
}

func near(got, want, tol int) bool { return got >= want-tol && got <= want+tol }

// ringbackCall places a call the callee rings for ring before answering,
// and returns the audio the caller received until the answer.
func ringbackCall(t *testing.T, netN int, country string, ring time.Duration) (before, after []int16) {
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	cfg.Realms[0].Media.Tones = country
	cfg.Realms[0].Media.Ringback = policy.RingbackLocal
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	StartSbcd(t, bin, cfgPath)
	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	callee := newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)
	callee.ring = ring
	callerMedia := newMediaEnd(t, topo.CallerIP(0), CallerMediaPort)
	caller, err := NewGoCaller(topo.CallerIP(0), CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "1000", topo.AccessSIP(), callerMedia.sdp(true))
	if err != nil {
		t.Fatal(err)
	}
	callerMedia.point(t, string(answer))
	answered := time.Now()
	calleeMedia.audio(600*time.Millisecond, nil) // the callee's own (silent) audio
	callerMedia.mu.Lock()
	for i, at := range callerMedia.arrival {
		s := callerMedia.pcm[i*160 : (i+1)*160]
		switch {
		case at.Before(answered):
			before = append(before, s...)
		case at.After(answered.Add(100 * time.Millisecond)):
			after = append(after, s...)
		}
	}
	callerMedia.mu.Unlock()
	_ = caller.Hangup(ctx)
	return before, after
}

// TestLocalRingback: the callee rings (180 without SDP) for 2.5 s; sbcd
// plays the caller's country's ringback itself, and stops at the answer.
// The caller measures the tone's frequencies and cadence from the audio.
func TestLocalRingback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, country string
		net           int
		freqs         []float64
		runs          []int // on/off runs in 20 ms frames, the last at least this long
	}{
		{"UK 400+450 Hz 0.4/0.2/0.4/2.0 s", "UK", 83, []float64{400, 450}, []int{20, 10, 20, 40}},
		{"DE 425 Hz 1.0/4.0 s", "DE", 84, []float64{425}, []int{50, 60}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before, after := ringbackCall(t, tc.net, tc.country, 2500*time.Millisecond)
			runs := frameRuns(before)
			t.Logf("%s: %d frames before the answer, runs %v", tc.country, len(before)/160, runs)
			if len(runs) < len(tc.runs) {
				t.Fatalf("runs %v, want %v", runs, tc.runs)
			}
			for i, want := range tc.runs {
				last := i == len(tc.runs)-1
				if (!last && !near(runs[i], want, 1)) || (last && runs[i] < want) {
					t.Errorf("run %d: %d frames, want %d (runs %v)", i, runs[i], want, runs)
				}
			}
			burst := before[:runs[0]*160]
			var sum float64
			for _, f := range tc.freqs {
				share := toneShare(burst, f, 8000)
				sum += share
				if share < 0.8/float64(len(tc.freqs)) {
					t.Errorf("%v Hz carries %.2f of the first burst", f, share)
				}
			}
			if sum < 0.9 {
				t.Errorf("the table's frequencies carry %.2f of the first burst", sum)
			}
			if runs := frameRuns(after); len(after) == 0 || len(runs) > 1 || runs[0] != 0 {
				t.Errorf("ringback still heard after the answer: runs %v over %d frames", runs, len(after)/160)
			}
		})
	}
}

// TestAnnouncementBeforeFailure: the callee answers 404; policy plays a
// 1.2 s WAV (a 1 kHz tone) to the caller as early media first, then the
// 404 reaches the caller.
func TestAnnouncementBeforeFailure(t *testing.T) {
	t.Parallel()
	topo := Topology{Net: 84}
	bin := needSbcd(t)
	dir := t.TempDir()
	wavPath := filepath.Join(dir, "not-in-service.wav")
	writeToneWAV(t, wavPath, 1000, 1200*time.Millisecond)
	cfg := topo.Config()
	// Net 84 is shared with the DE ringback test: other SIP and media ports.
	cfg.Realms[0].Listeners[0].Address = "127.84.1.1:5062"
	cfg.Realms[1].Listeners[0].Address = "127.84.2.1:5082"
	cfg.Realms[0].Media.PortMin, cfg.Realms[0].Media.PortMax = 31000, 31099
	cfg.Realms[1].Media.PortMin, cfg.Realms[1].Media.PortMax = 31100, 31199
	cfg.Trunks[0].Gateways[0].Address = "127.84.2.11:5092"
	cfg.Media.Announcements = map[string]policy.AnnouncementConfig{"404": {WAV: wavPath}}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	StartSbcd(t, bin, cfgPath)
	calleeMedia := newMediaEnd(t, "127.84.2.11", CalleeMediaPort+2)
	callee := newSIPCallee(t, "127.84.2.11", 5092, calleeMedia)
	callee.fail = 404
	callerMedia := newMediaEnd(t, "127.84.1.11", CallerMediaPort+2)
	caller, err := NewGoCaller("127.84.1.11", CallerPort+2)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := caller.Invite(ctx, "1000", "127.84.1.1:5062", callerMedia.sdp(false))
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.Status() != 404 {
		t.Fatalf("final response %d, want 404", res.Status())
	}
	if took < 1100*time.Millisecond {
		t.Errorf("404 after %v: before the 1.2 s announcement ended", took)
	}
	callerMedia.mu.Lock()
	pcm := append([]int16(nil), callerMedia.pcm...)
	callerMedia.mu.Unlock()
	runs := frameRuns(pcm)
	t.Logf("404 after %v; %d frames of early media, runs %v", took, len(pcm)/160, runs)
	if len(runs) == 0 || !near(runs[0], 60, 2) {
		t.Fatalf("announcement runs %v, want one of 60 frames (1.2 s)", runs)
	}
	if share := toneShare(pcm[:runs[0]*160], 1000, 8000); share < 0.9 {
		t.Errorf("1 kHz carries %.2f of the announcement", share)
	}
}

// writeToneWAV writes a mono 8 kHz 16-bit WAV of a tone.
func writeToneWAV(t *testing.T, path string, freq float64, d time.Duration) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := wav.NewWriter(f, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, int(d.Seconds()*8000))
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	if _, err := w.Write(pcm); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
