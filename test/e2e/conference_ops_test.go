//go:build cgo

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestConferenceOpusAndOperations: an Opus caller (rtcp-mux, as WebRTC
// endpoints send), a PCMU and a G.722 caller share room "ops"; each hears
// the other two and not itself, and the Opus leg receives RTCP sender
// reports from sbcd. The operator watches with sbcctl conference
// list/show and the conference metrics (a fourth caller, refused as the
// room is full, is counted), then mutes the Opus caller with sbcctl
// conference mute: the others stop hearing it, and hear it again after
// unmute.
func TestConferenceOpusAndOperations(t *testing.T) {
	t.Parallel()
	const netN = 118
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	off := false
	cfg.Conferences = policy.ConferenceConfig{URIPattern: "conf-<room>", MaxParticipants: 3, JoinTone: &off, LeaveTone: &off}
	admin := fmt.Sprintf("127.%d.3.1:9090", netN)
	cfg.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{{Name: "noc", Role: "operator", SHA256: tokenHash("op-token")}}}
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	ctl := func(args ...string) (int, string, string) {
		return sbcctl(t, "op-token", append([]string{"-admin", admin}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	spec := []struct {
		codec string
		pt    uint8
		hz    float64
	}{{"opus", 111, 500}, {"PCMU", 0, 900}, {"G722", 9, 1300}, {"PCMA", 8, 1700}}
	var ms []*confMember
	var cs []*GoCaller
	for i, s := range spec {
		c, err := NewGoCaller(topo.CallerIP(i), CallerPort)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
		ms = append(ms, newConfMember(t, topo.CallerIP(i), s.codec, s.pt, s.hz))
	}
	dsts := make([]*net.UDPAddr, 3)
	for i := range 3 {
		ans, err := cs[i].Call(ctx, "conf-ops", topo.AccessSIP(), ms[i].offer(topo.CallerIP(i)))
		if err != nil {
			t.Fatalf("caller %d (%s): %v\n%s", i, ms[i].codec, err, sbcd.Dump(30))
		}
		if m := sdpAudioRE.FindSubmatch(ans); m == nil || strings.Fields(string(m[3]))[0] != fmt.Sprint(ms[i].pt) {
			t.Fatalf("answer to the %s caller:\n%s", ms[i].codec, ans)
		}
		dsts[i] = answerAddr(t, ans)
	}
	res, err := cs[3].Invite(ctx, "conf-ops", topo.AccessSIP(), ms[3].offer(topo.CallerIP(3)))
	if err != nil || res.Status() != 486 {
		t.Fatalf("fourth caller: %v %v, want 486", res, err)
	}

	// sbcctl conference list and show.
	if code, out, errOut := ctl("conference", "list"); code != 0 || !strings.Contains(out, "ops") {
		t.Fatalf("conference list: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut := ctl("-json", "conference", "show", "ops")
	var room struct {
		Participants []struct{ ID, Codec string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &room) != nil || len(room.Participants) != 3 {
		t.Fatalf("conference show: exit %d %q %q", code, out, errOut)
	}
	var opusID string
	for _, p := range room.Participants {
		if p.Codec == "opus" {
			opusID = p.ID
		}
	}
	if opusID == "" {
		t.Fatalf("no Opus participant in %+v", room.Participants)
	}
	if code, _, errOut := ctl("conference", "mute", "ops", "no-such-call"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("mute of an unknown participant: exit %d %q", code, errOut)
	}
	m := scrape(t, admin)
	for k, want := range map[string]float64{"openborder_conference_rooms": 1, "openborder_conference_participants": 3,
		"openborder_conference_joins_total": 3, `openborder_conference_refusals_total{reason="full"}`: 1,
		`openborder_conference_refusals_total{reason="rooms"}`: 0} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}

	talk := func(d time.Duration) {
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() { ms[i].talk(dsts[i], d) })
		}
		wg.Wait()
	}
	hears := func(phase string, mutedOpus bool) {
		t.Helper()
		for i, p := range ms[:3] {
			for j, q := range ms[:3] {
				a := p.level(q.hz)
				switch {
				case i == j && a > 8000*0.05:
					t.Errorf("%s: %s hears itself at %.0f", phase, p.codec, a)
				case i != j && j == 0 && mutedOpus && a > 8000*0.05:
					t.Errorf("%s: %s hears the muted Opus caller at %.0f", phase, p.codec, a)
				case i != j && !(j == 0 && mutedOpus) && a < 8000*0.5:
					t.Errorf("%s: %s hears %s at %.0f, want about 8000", phase, p.codec, q.codec, a)
				}
			}
		}
	}
	talk(2 * time.Second)
	hears("all talking", false)
	ms[0].mu.Lock()
	srs := ms[0].srs
	ms[0].mu.Unlock()
	if srs < 1 {
		t.Errorf("the Opus leg got %d RTCP sender reports in its first 2 s, want at least 1", srs)
	}

	if code, out, errOut := ctl("conference", "mute", "ops", opusID); code != 0 || !strings.Contains(out, "muted") {
		t.Fatalf("conference mute: exit %d %q %q", code, out, errOut)
	}
	talk(1500 * time.Millisecond)
	hears("Opus muted", true)
	if code, out, errOut := ctl("conference", "unmute", "ops", opusID); code != 0 || !strings.Contains(out, "unmuted") {
		t.Fatalf("conference unmute: exit %d %q %q", code, out, errOut)
	}
	talk(1500 * time.Millisecond)
	hears("Opus unmuted", false)
	for _, c := range cs[:3] {
		if err := c.Hangup(ctx); err != nil {
			t.Errorf("hangup: %v", err)
		}
	}
	if _, err := sbcd.WaitMsg("conference room closed", 5*time.Second); err != nil {
		t.Errorf("room not closed after everyone left: %v", err)
	}
	m = scrape(t, admin)
	if m["openborder_conference_rooms"] != 0 || m["openborder_conference_participants"] != 0 {
		t.Errorf("after the hang-ups: rooms %v participants %v", m["openborder_conference_rooms"], m["openborder_conference_participants"])
	}
}
