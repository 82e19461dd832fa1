//go:build cgo

package rtpengine

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/wav"
	"github.com/openborder/openborder/test/audiocheck"
)

// TestRecordTranscodedCall records a transcoded call (A: Opus, B: PCMU)
// through the engine on real sockets and checks the stereo WAV: A's
// 1 kHz tone on the left, B's 600 Hz on the right, about 1.2 s long.
func TestRecordTranscodedCall(t *testing.T) {
	dir := t.TempDir()
	e := newTestEngine(t, 42600, netip.Addr{}, func(c *Config) { c.Recording = RecordingConfig{Dir: dir, WAV: true, PCAP: true} })
	ctx := context.Background()
	pa, pb := newPeer(t), newPeer(t)
	offer, err := e.Offer(ctx, OfferRequest{CallID: "rec", FromTag: "A",
		SDP:   xcodeSDP(pa.addr.Port(), "111", "a=rtpmap:111 opus/48000/2"),
		Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.StopRecording("rec"); !errors.Is(err, ErrRecording) {
		t.Errorf("stop before start: %v", err)
	}
	answer, err := e.Answer(ctx, AnswerRequest{CallID: "rec", FromTag: "A", ToTag: "B", SDP: xcodeSDP(pb.addr.Port(), "0")})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]string{"A": {"from": "sip:alice@example.org"}, "B": {"to": "sip:bob@example.net"}}
	if err := e.StartRecording("rec", RecordOptions{Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if err := e.StartRecording("rec", RecordOptions{}); !errors.Is(err, ErrRecording) {
		t.Errorf("second start: %v", err)
	}
	if on, _ := e.Recording("rec"); !on {
		t.Error("Recording says no")
	}
	if m := e.Metrics(); m.Recordings != 1 || m.Transcode.Sessions != 1 {
		t.Errorf("metrics: %d recordings, %d transcode sessions", m.Recordings, m.Transcode.Sessions)
	}
	sbcA, sbcB := lo(sdpMediaPorts(t, answer)[0]), lo(sdpMediaPorts(t, offer)[0])
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		stream(t, pa, sbcA, newCodecPeer(t, "opus", 111), 1000, 1200*time.Millisecond, 0)
	}()
	go func() {
		defer wg.Done()
		stream(t, pb, sbcB, newCodecPeer(t, "pcmu", 0), 600, 1200*time.Millisecond, 0)
	}()
	go func() { defer wg.Done(); collect(t, pa, newCodecPeer(t, "opus", 111)) }()
	go func() { defer wg.Done(); collect(t, pb, newCodecPeer(t, "pcmu", 0)) }()
	wg.Wait()
	meta, err := e.StopRecording("rec")
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Files) != 3 || meta.Parties[0].Labels["from"] != "sip:alice@example.org" || meta.Parties[1].Leg != "B" ||
		meta.Packets[0] < 55 || meta.Packets[1] < 55 || meta.Dropped != 0 {
		t.Fatalf("metadata %+v", meta)
	}
	if math.Abs(meta.Seconds-1.2) > 0.1 {
		t.Errorf("recorded %.3f s, want about 1.2", meta.Seconds)
	}
	f, err := os.Open(filepath.Join(dir, meta.Files[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := wav.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int16, 2*rd.Frames())
	if _, err := rd.Read(all); err != nil {
		t.Fatal(err)
	}
	for c, freq := range []float64{1000, 600} {
		x := make([]int16, 0, len(all)/2)
		for i := c; i < len(all); i += 2 {
			x = append(x, all[i])
		}
		tone := audiocheck.Analyse(x[1600:len(x)-800], 8000)
		t.Logf("channel %d: %.2f Hz %+.2f dB SNR %.1f dB", c, tone.Freq, audiocheck.DB(tone.Amplitude, 10000), tone.SNR)
		if math.Abs(tone.Freq-freq) > 1 || math.Abs(audiocheck.DB(tone.Amplitude, 10000)) > 1 || tone.SNR < 20 {
			t.Errorf("channel %d: %.2f Hz %+.2f dB SNR %.1f dB, want %.0f Hz", c, tone.Freq, audiocheck.DB(tone.Amplitude, 10000), tone.SNR, freq)
		}
	}
}

// TestRecordFlagAndDelete: Flags.Record starts a recording at the
// answer; Delete completes it in the background.
func TestRecordFlagAndDelete(t *testing.T) {
	dir := t.TempDir()
	e := newTestEngine(t, 42640, netip.Addr{}, func(c *Config) { c.Recording = RecordingConfig{Dir: dir} })
	ctx := context.Background()
	if _, err := e.Offer(ctx, OfferRequest{CallID: "f", FromTag: "A", SDP: xcodeSDP(4000, "0"),
		Flags: Flags{Record: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Answer(ctx, AnswerRequest{CallID: "f", FromTag: "A", ToTag: "B", SDP: xcodeSDP(4002, "0")}); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.Recording("f"); !on {
		t.Fatal("Flags.Record did not start a recording")
	}
	st, err := e.Delete("f", "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(st.RecordingPath) != dir || filepath.Ext(st.RecordingPath) != ".wav" {
		t.Fatalf("recording path %q, want a .wav in %s", st.RecordingPath, dir)
	}
	waitFor(t, 2*time.Second, "the recording's files", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "f-*.json"))
		w, _ := filepath.Glob(filepath.Join(dir, "f-*.wav"))
		return len(m) == 1 && len(w) == 1 && w[0] == st.RecordingPath
	})

	none := newTestEngine(t, 42680, netip.Addr{}, nil)
	if _, err := none.Offer(ctx, OfferRequest{CallID: "n", FromTag: "A", SDP: xcodeSDP(4000, "0")}); err != nil {
		t.Fatal(err)
	}
	if err := none.StartRecording("n", RecordOptions{}); !errors.Is(err, ErrRecording) {
		t.Errorf("without a directory: %v", err)
	}
	if err := e.StartRecording("nope", RecordOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown call: %v", err)
	}
}
