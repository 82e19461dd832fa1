//go:build cgo

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/cdr"
	"github.com/openborder/openborder/policy"
)

// TestCDRCodecsTranscodingAndRecording: three answered calls through one
// sbcd, each with media both ways, and their records in both CDR files:
// a plain PCMU call (PCMU on both legs, not transcoded, not recorded), an
// Opus-only caller through the PCMU-only trunk (opus/48000 on the caller's
// leg, PCMU/8000 on the callee's, transcoded) and a call routed to a trunk
// with policy recording on (the record names the WAV, which exists). Each
// record carries per-leg packets and a MOS estimate for both legs.
func TestCDRCodecsTranscodingAndRecording(t *testing.T) {
	t.Parallel()
	const netID = 110
	topo := Topology{Net: netID}
	bin := needSbcd(t)
	dir := t.TempDir()
	cdrDir, recDir := filepath.Join(dir, "cdr"), filepath.Join(dir, "recordings")
	for _, d := range []string{cdrDir, recDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := topo.Config()
	cfg.CDR = policy.CDRConfig{Dir: cdrDir, Formats: []string{"csv", "jsonl"}}
	cfg.Trunks[0].Codecs = []string{"PCMU", "telephone-event"}
	cfg.Media.Recording = policy.RecordingConfig{Directory: recDir, Formats: []string{"wav"}}
	cfg.Trunks = append(cfg.Trunks, policy.TrunkConfig{
		Name: "recorded", Realm: "core", Record: true,
		Gateways: []policy.GatewayConfig{{Address: topo.Gateway(1), Transport: "udp", Priority: 1}},
	})
	cfg.Routes = append([]policy.RouteConfig{{
		Name:   "recorded",
		Match:  policy.MatchConfig{SourceRealm: "access", RURIUser: policy.StringMatch{Exact: "rec"}},
		Trunks: []string{"recorded"},
	}}, cfg.Routes...)
	admin := fmt.Sprintf("127.%d.3.1:9090", netID)
	cfg.Admin.Address = admin
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, 600)
	StartRTPPeer(t, topo.GatewayIP(1), GatewayPort, CalleeMediaPort, 600)

	// call places one call from caller address i, sends media for a
	// second and hangs up; it returns the caller's Call-ID.
	call := func(i int, user string, opusOffer bool, during func()) string {
		t.Helper()
		ip := topo.CallerIP(i)
		caller, err := NewGoCaller(ip, CallerPort)
		if err != nil {
			t.Fatal(err)
		}
		defer caller.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		codec := "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
		var op *opusPeer
		var media *net.UDPConn
		if opusOffer {
			codec = "m=audio 6000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"
			op = newOpusPeer(t, ip, 6000)
		} else {
			media, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: 6000})
			if err != nil {
				t.Fatal(err)
			}
			defer media.Close()
		}
		offer := fmt.Appendf(nil, "v=0\r\no=caller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n%sa=sendrecv\r\n", ip, ip, codec)
		answer, err := caller.Call(ctx, user, topo.AccessSIP(), offer)
		if err != nil {
			t.Fatalf("%s call: %v\n%s", user, err, sbcd.Dump(30))
		}
		if op != nil {
			op.send(t, answerAddr(t, answer), time.Second)
		} else {
			sendPCMU(media, answerAddr(t, answer), time.Second)
		}
		time.Sleep(100 * time.Millisecond)
		during()
		if err := caller.Hangup(ctx); err != nil {
			t.Fatalf("%s hangup: %v", user, err)
		}
		return caller.CallID()
	}
	xcodeNow := func(want float64) func() {
		return func() {
			if got := scrape(t, admin)["openborder_media_transcode_sessions"]; got != want {
				t.Errorf("openborder_media_transcode_sessions = %v during the call, want %v", got, want)
			}
		}
	}
	plainID := call(0, "bob", false, xcodeNow(0))
	xcodeID := call(1, "bob", true, xcodeNow(1))
	recID := call(2, "rec", false, xcodeNow(0))

	// Metrics after the calls: transcoding ended (one set up in all), and
	// the trunks' sliding-window figures: every attempt answered (NER 1),
	// the calls lasted a little over a second each (ACD). sbcd answers a
	// BYE before it scores the call: wait for the third call's record.
	if err := sbcd.WaitCount("call ended", 3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	m := scrape(t, admin)
	for name, want := range map[string]float64{
		`openborder_media_transcode_sessions`:                0,
		`openborder_media_transcode_sessions_total`:          1,
		`openborder_trunk_window_attempts{trunk="pbx"}`:      2,
		`openborder_trunk_window_attempts{trunk="recorded"}`: 1,
		`openborder_trunk_ner_ratio{trunk="pbx"}`:            1,
		`openborder_trunk_ner_ratio{trunk="recorded"}`:       1,
		`openborder_trunk_asr_ratio{trunk="pbx"}`:            1,
		`openborder_media_recordings`:                        0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for _, trunk := range []string{"pbx", "recorded"} {
		name := `openborder_trunk_acd_seconds{trunk="` + trunk + `"}`
		if got := m[name]; got < 1 || got > 5 {
			t.Errorf("%s = %v, want the calls' length: 1 to 5 s", name, got)
		}
	}

	for _, file := range []string{"cdr.csv", "cdr.jsonl"} {
		path := filepath.Join(cdrDir, file)
		var recs []cdr.Record
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if res, err := cdr.ReadFile(path); err == nil && len(res.Records) == 3 {
				recs = res.Records
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no 3 records within 5 s", file)
			}
		}
		by := map[string]cdr.Record{}
		for _, r := range recs {
			by[r.ACallID] = r
		}
		for _, want := range []struct {
			name, id, a, b, trunk string
			transcoded, recorded  bool
		}{
			{"plain", plainID, "PCMU/8000", "PCMU/8000", "pbx", false, false},
			{"transcoded", xcodeID, "opus/48000", "PCMU/8000", "pbx", true, false},
			{"recorded", recID, "PCMU/8000", "PCMU/8000", "recorded", false, true},
		} {
			r, ok := by[want.id]
			if !ok {
				t.Errorf("%s: no record of the %s call %s", file, want.name, want.id)
				continue
			}
			if r.ACodec != want.a || r.BCodec != want.b || r.Transcoded != want.transcoded || r.Trunk != want.trunk {
				t.Errorf("%s %s: a_codec %q b_codec %q transcoded %v trunk %q; want %q %q %v %q",
					file, want.name, r.ACodec, r.BCodec, r.Transcoded, r.Trunk, want.a, want.b, want.transcoded, want.trunk)
			}
			for leg, m := range map[string]cdr.Media{"a": r.AMedia, "b": r.BMedia} {
				// A second of 20 ms frames each way on loopback: about 50
				// packets, and an E-model estimate of good quality.
				if m.Packets < 30 || m.Bytes == 0 || m.MOS < 3 || m.MOS > 4.5 {
					t.Errorf("%s %s: %s leg media %+v, want >= 30 packets and a MOS in [3, 4.5]", file, want.name, leg, m)
				}
			}
			switch {
			case !want.recorded && r.RecordingPath != "":
				t.Errorf("%s %s: recording_path %q on a call not recorded", file, want.name, r.RecordingPath)
			case want.recorded && (filepath.Dir(r.RecordingPath) != recDir || !strings.HasSuffix(r.RecordingPath, ".wav")):
				t.Errorf("%s %s: recording_path %q, want a WAV in %s", file, want.name, r.RecordingPath, recDir)
			case want.recorded:
				waitFor(t, "the recording "+r.RecordingPath, 5*time.Second, func() bool {
					fi, err := os.Stat(r.RecordingPath)
					return err == nil && fi.Size() > 44
				})
			}
		}
	}
}
