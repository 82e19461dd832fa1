//go:build cgo

package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/rfc4733"
	"github.com/openborder/openborder/codecs/wav"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/test/audiocheck"
)

// opusPeer is the RTP side of an Opus-only caller: it sends a 1 kHz tone
// as 20 ms Opus frames (48 kHz) and decodes what comes back.
type opusPeer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pcm  []int16
	pts  map[uint8]int
	// events are the digits of telephone-events received (PT 110, 48 kHz).
	events []byte
	done   chan struct{}
}

func newOpusPeer(t *testing.T, ip string, port int) *opusPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := opus.NewDecoder(opus.DecoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := &opusPeer{conn: c, pts: map[uint8]int{}, done: make(chan struct{})}
	rx, err := rfc4733.NewReceiver(rfc4733.ReceiverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		buf := make([]byte, 1500)
		pcm := make([]int16, 5760)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[1]&0x7f >= 72 && buf[1]&0x7f <= 76 {
				continue // RTCP (rtcp-mux)
			}
			pt := buf[1] & 0x7f
			p.mu.Lock()
			p.pts[pt]++
			switch pt {
			case 111:
				if k, err := dec.Decode(buf[12:n], pcm); err == nil {
					p.pcm = append(p.pcm, pcm[:k]...)
				}
			case 110:
				ds, _ := rx.Push(nil, time.Now(), binary.BigEndian.Uint32(buf[4:]), buf[1]&0x80 != 0,
					binary.BigEndian.Uint16(buf[2:]), buf[12:n])
				for _, d := range ds {
					if k, err := rfc4733.Key(d.Code); err == nil {
						p.events = append(p.events, k)
					}
				}
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-p.done })
	return p
}

// send streams d of the tone to dst, paced in real time.
func (p *opusPeer) send(t *testing.T, dst *net.UDPAddr, d time.Duration) {
	enc, err := opus.NewEncoder(opus.EncoderConfig{FEC: true})
	if err != nil {
		t.Error(err)
		return
	}
	out := make([]byte, 1500)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < int(d/(20*time.Millisecond)); i++ {
		<-tick.C
		n, err := enc.Encode(audiocheck.Sine(48000, i*960, 960, 1000, 10000), out)
		if err != nil {
			t.Error(err)
			return
		}
		pkt := make([]byte, 12+n)
		pkt[0], pkt[1] = 0x80, 111
		if i == 0 {
			pkt[1] |= 0x80
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*960))
		binary.BigEndian.PutUint32(pkt[8:], 0x0105)
		copy(pkt[12:], out[:n])
		_, _ = p.conn.WriteToUDP(pkt, dst)
	}
}

// answerAddr is the audio address of an SDP.
func answerAddr(t *testing.T, body []byte) *net.UDPAddr {
	t.Helper()
	c, m := sdpConnRE.FindSubmatch(body), sdpAudioRE.FindSubmatch(body)
	if c == nil || m == nil {
		t.Fatalf("no audio in SDP:\n%s", body)
	}
	port, _ := strconv.Atoi(string(m[1]))
	return &net.UDPAddr{IP: net.ParseIP(string(c[1])), Port: port}
}

// TestTranscodedCallThroughSbcd: an Opus-only caller in the access realm
// calls through a trunk that takes only PCMU. sbcd offers the trunk PCMU,
// answers the caller with Opus and transcodes both ways; each far end
// checks the other's tone (frequency, level, SNR). The operator records
// the call with sbcctl; the stereo WAV carries the caller's tone on the
// left and the callee's on the right.
func TestTranscodedCallThroughSbcd(t *testing.T) {
	t.Parallel()
	const net = 50
	topo := Topology{Net: net}
	bin := needSbcd(t)
	dir := t.TempDir()
	recDir := filepath.Join(dir, "recordings")
	if err := os.Mkdir(recDir, 0o755); err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	cfg := topo.Config()
	cfg.Realms[0].Media.Codecs = []string{"opus", "telephone-event"}
	cfg.Trunks[0].Codecs = []string{"PCMU", "telephone-event"}
	cfg.Media.Recording = policy.RecordingConfig{Directory: recDir, Formats: []string{"wav", "pcap"}}
	cfg.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{{Name: "noc", Role: "operator", SHA256: tokenHash("op-token")}}}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	const calleeTone = 600.0
	callee := StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, calleeTone)

	ip := topo.CallerIP(0)
	a := newOpusPeer(t, ip, 6000)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer := fmt.Appendf(nil, "v=0\r\no=opus 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 6000 RTP/AVP 111\r\n"+
		"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtcp-mux\r\na=sendrecv\r\n", ip, ip)
	answer, err := caller.Call(ctx, "bob", topo.AccessSIP(), offer)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, sbcd.Dump(30))
	}
	if m := sdpAudioRE.FindSubmatch(answer); m == nil || strings.TrimSpace(string(m[3])) != "111" {
		t.Fatalf("answer to the Opus caller:\n%s", answer)
	}

	ctl := func(args ...string) (int, string, string) {
		return sbcctl(t, "op-token", append([]string{"-admin", admin}, args...)...)
	}
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == "" && time.Now().Before(deadline); {
		_, out, _ := ctl("-json", "calls")
		var calls []struct{ ID, State string }
		if json.Unmarshal([]byte(out), &calls) == nil && len(calls) == 1 && calls[0].State == "confirmed" {
			id = calls[0].ID
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if id == "" {
		t.Fatal("the call never showed as confirmed")
	}
	if code, out, errOut := ctl("record", "start", id); code != 0 || !strings.Contains(out, "recording") {
		t.Fatalf("record start: exit %d %s %s", code, out, errOut)
	}
	if code, _, errOut := ctl("record", "start", id); code != 1 || !strings.Contains(errOut, "422") {
		t.Errorf("second record start: exit %d %q", code, errOut)
	}

	a.send(t, answerAddr(t, answer), 2*time.Second)
	time.Sleep(200 * time.Millisecond)

	code, out, errOut := ctl("-json", "record", "stop", id)
	if code != 0 {
		t.Fatalf("record stop: exit %d %s %s", code, out, errOut)
	}
	var rec struct {
		Files   []string
		Seconds float64
		Dropped uint64
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil || len(rec.Files) != 3 || rec.Dropped != 0 {
		t.Fatalf("record stop reply %q: %v", out, err)
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}

	// The PCMU callee heard the caller's 1 kHz; the Opus caller heard 600 Hz.
	callee.mu.Lock()
	heardB := append([]int16(nil), callee.samples...)
	callee.mu.Unlock()
	a.mu.Lock()
	heardA, ptsA := append([]int16(nil), a.pcm...), a.pts
	a.mu.Unlock()
	tone, _ := codecs.NewTone(8000, calleeTone, -10)
	for _, x := range []struct {
		who       string
		pcm       []int16
		rate      int
		freq, amp float64
	}{{"callee hears caller", heardB, 8000, 1000, 10000}, {"caller hears callee", heardA, 48000, calleeTone, tone.Amplitude()}} {
		if len(x.pcm) < x.rate {
			t.Fatalf("%s: only %d samples (payload types at the caller %v)\n%s", x.who, len(x.pcm), ptsA, sbcd.Dump(30))
		}
		seg := x.pcm[len(x.pcm)-x.rate:] // the last second
		got := audiocheck.Analyse(seg, x.rate)
		t.Logf("%s: %.2f Hz %+.2f dB SNR %.1f dB", x.who, got.Freq, audiocheck.DB(got.Amplitude, x.amp), got.SNR)
		if math.Abs(got.Freq-x.freq) > 1 || math.Abs(audiocheck.DB(got.Amplitude, x.amp)) > 1.5 || got.SNR < 20 {
			t.Errorf("%s: %.2f Hz %+.2f dB SNR %.1f dB; want %.0f Hz within 1.5 dB, SNR >= 20 dB",
				x.who, got.Freq, audiocheck.DB(got.Amplitude, x.amp), got.SNR, x.freq)
		}
	}

	// The recording: both channels carry their tone.
	f, err := os.Open(filepath.Join(recDir, rec.Files[0]))
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
	secs := float64(len(all)/2) / 8000
	if secs < 1.8 || secs > 3.5 || math.Abs(secs-rec.Seconds) > 0.01 {
		t.Errorf("recording lasts %.2f s (reply says %.2f), want about 2 s", secs, rec.Seconds)
	}
	for ch, freq := range []float64{1000, calleeTone} {
		var x []int16
		for i := ch; i < len(all); i += 2 {
			x = append(x, all[i])
		}
		got := audiocheck.Analyse(x[len(x)/4:len(x)*3/4], 8000)
		if math.Abs(got.Freq-freq) > 1 || got.SNR < 20 {
			t.Errorf("recording channel %d: %.2f Hz SNR %.1f dB, want %.0f Hz", ch, got.Freq, got.SNR, freq)
		}
	}
}
