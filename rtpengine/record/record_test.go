//go:build cgo

package record

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/wav"
	"github.com/openborder/openborder/test/audiocheck"
	"github.com/openborder/openborder/test/testenv"
)

func rtp(pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	copy(b[12:], payload)
	return b
}

var (
	aAddr = netip.MustParseAddrPort("127.0.0.50:4000")
	bAddr = netip.MustParseAddrPort("127.0.0.51:4002")
	sbc   = netip.MustParseAddrPort("127.0.0.1:20000")
)

// TestStereoRecording records a call whose A leg sends a 1 kHz tone as
// PCMU from t=0 to 2 s and whose B leg sends 500 Hz as Opus from 0.5 s
// to 2 s with 200 ms missing in the middle; the WAV must carry each tone
// on its channel at the right time, silence elsewhere, and last 2 s.
func TestStereoRecording(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	clock := t0
	r, err := Start(Config{Dir: dir, CallID: "call/1@host", WAV: true, PCAP: true, Now: func() time.Time { return clock },
		Parties: []Party{{Leg: "A", Channel: 0, Address: aAddr.String()}, {Leg: "B", Channel: 1, Address: bAddr.String()}}})
	if err != nil {
		t.Fatal(err)
	}
	r.SetPayloadTypes(0, PayloadTypes{0: "PCMU", 101: "telephone-event"})
	r.SetPayloadTypes(1, PayloadTypes{111: "opus"})
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 1500)
	for i := range 100 { // 20 ms steps
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		pcm := audiocheck.Sine(8000, i*160, 160, 1000, 8000)
		n := codecs.UlawEncodeFrame(out, pcm)
		r.Packet(0, rtp(0, uint16(i), uint32(i*160), 1, out[:n]), aAddr, sbc, at)
		if i%10 == 3 {
			r.Packet(0, rtp(101, uint16(i), uint32(i*160), 1, []byte{1, 0, 0, 160}), aAddr, sbc, at) // skipped
		}
		if i >= 25 && (i < 60 || i >= 70) {
			k, err := enc.Encode(audiocheck.Sine(48000, i*960, 960, 500, 8000), out)
			if err != nil {
				t.Fatal(err)
			}
			r.Packet(1, rtp(111, uint16(i), uint32(i*960), 2, out[:k]), bAddr, sbc, at.Add(3*time.Millisecond))
		}
	}
	clock = t0.Add(2 * time.Second)
	meta, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Stop(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Stop: %v", err)
	}
	base := "call_1_host-20261124T010000.000Z"
	want := []string{base + ".wav", base + ".pcap", base + ".json"}
	if strings.Join(meta.Files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", meta.Files, want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("directory holds %d entries (temporary files left?)", len(ents))
	}
	var onDisk Metadata
	b, err := os.ReadFile(filepath.Join(dir, base+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.CallID != "call/1@host" || !onDisk.Start.Equal(t0) || !onDisk.End.Equal(clock) || onDisk.Packets != [2]uint64{110, 65} ||
		len(onDisk.Parties) != 2 || onDisk.Parties[1].Address != bAddr.String() || onDisk.Dropped != 0 {
		t.Errorf("metadata %s", b)
	}

	f, err := os.Open(filepath.Join(dir, base+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := wav.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if ft := rd.Format(); ft.SampleRate != 8000 || ft.Channels != 2 {
		t.Fatalf("format %+v", ft)
	}
	all := make([]int16, 2*rd.Frames())
	if n, err := rd.Read(all); err != nil || n != len(all) {
		t.Fatalf("read %d of %d: %v", n, len(all), err)
	}
	frames := len(all) / 2
	if frames < 15900 || frames > 16100 { // 2 s
		t.Fatalf("%d frames, want 2 s", frames)
	}
	ch := func(c, from, to int) []int16 { // samples of channel c between ms from and to
		var x []int16
		for i := from * 8; i < to*8 && i < frames; i++ {
			x = append(x, all[2*i+c])
		}
		return x
	}
	rms := func(x []int16) float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(len(x)))
	}
	for _, seg := range []struct {
		name        string
		c, from, to int
		freq        float64
	}{
		{"A tone", 0, 100, 1900, 1000},
		{"B tone before the gap", 1, 700, 1200, 500},
		{"B tone after the gap", 1, 1500, 1950, 500},
	} {
		tone := audiocheck.Analyse(ch(seg.c, seg.from, seg.to), 8000)
		if math.Abs(tone.Freq-seg.freq) > 1 || math.Abs(audiocheck.DB(tone.Amplitude, 8000)) > 1 || tone.SNR < 25 {
			t.Errorf("%s: %.2f Hz %+.2f dB SNR %.1f", seg.name, tone.Freq, audiocheck.DB(tone.Amplitude, 8000), tone.SNR)
		}
	}
	for _, seg := range []struct {
		name        string
		c, from, to int
	}{{"B before it starts", 1, 0, 490}, {"B in its gap", 1, 1220, 1390}} {
		if v := rms(ch(seg.c, seg.from, seg.to)); v > 50 {
			t.Errorf("%s: rms %.0f, want silence", seg.name, v)
		}
	}

	if path, err := exec.LookPath("tshark"); err == nil || testenv.InCI() {
		if err != nil {
			testenv.RequireTool(t, "tshark")
		}
		out, err := exec.Command(path, "-r", filepath.Join(dir, base+".pcap"), "-d", "udp.port==20000,rtp", "-T", "fields", "-e", "ip.src", "-e", "rtp.p_type").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 175 || lines[0] != "127.0.0.50\t0" {
			t.Errorf("tshark read %d packets, first %q", len(lines), lines[0])
		}
	}
}

// TestQueueFullDrops: a writer that cannot keep up never blocks Packet.
func TestQueueFullDrops(t *testing.T) {
	r, err := Start(Config{Dir: t.TempDir(), CallID: "q", WAV: true, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	r.SetPayloadTypes(0, PayloadTypes{0: "pcmu"})
	start := time.Now()
	for i := range 10000 {
		r.Packet(0, rtp(0, uint16(i), uint32(i*160), 1, make([]byte, 160)), aAddr, sbc, time.Now())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("10000 packets took %v", d)
	}
	meta, err := r.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if meta.Dropped == 0 || meta.Dropped+meta.Packets[0] != 10000 {
		t.Errorf("dropped %d, recorded %d", meta.Dropped, meta.Packets[0])
	}
	r.Packet(0, rtp(0, 1, 1, 1, nil), aAddr, sbc, time.Now()) // after Stop: ignored
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{CallID: "x", WAV: true}, {Dir: t.TempDir(), WAV: true}, {Dir: t.TempDir(), CallID: "x"},
		{Dir: filepath.Join(t.TempDir(), "missing"), CallID: "x", WAV: true}} {
		if _, err := Start(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// FuzzChannelDecode feeds arbitrary bytes, as received from a leg, to a
// channel decoding each codec: it must not panic, and a packet decodes to
// at most two samples per byte (G.722 at 16 kHz resampled to 8 kHz gives
// one) or one Opus packet's 120 ms at 8 kHz.
func FuzzChannelDecode(f *testing.F) {
	f.Add(rtp(0, 1, 160, 1, make([]byte, 160)))
	f.Add(rtp(9, 1, 160, 1, make([]byte, 160)))
	f.Add(rtp(111, 1, 960, 1, []byte{0x78, 1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c channel
		c.setPayloadTypes(PayloadTypes{0: "pcmu", 8: "pcma", 9: "g722", 111: "opus", 101: "telephone-event"})
		for range 2 {
			pcm, _, ok := c.decode(b, 8000)
			if ok && len(pcm) > max(2*len(b), 960) {
				t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
			}
		}
	})
}
