package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// capEnv is an sbcd with the admin API and a capture directory.
type capEnv struct {
	*env
	admin  string
	dir    string
	tshark string
}

func newCapEnv(t *testing.T, net int, mutate func(*policy.Config)) *capEnv {
	t.Helper()
	tshark := RequireTool(t, "tshark")
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	dir := t.TempDir()
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{{Name: "noc", Role: "operator", SHA256: tokenHash("op")}}}
		c.Capture = policy.CaptureConfig{Dir: filepath.Join(dir, "captures")}
		if mutate != nil {
			mutate(c)
		}
	})
	return &capEnv{env: e, admin: admin, dir: dir, tshark: tshark}
}

func (c *capEnv) ctl(args ...string) string {
	c.t.Helper()
	code, out, errOut := sbcctl(c.t, "op", append([]string{"-admin", c.admin}, args...)...)
	if code != 0 {
		c.t.Fatalf("sbcctl %v: exit %d %s %s", args, code, out, errOut)
	}
	return out
}

// field returns the value of key in sbcctl's "key<TAB>value" output.
func field(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

func (c *capEnv) start(filter string) string {
	c.t.Helper()
	out := c.ctl("capture", "start", filter, "60s")
	id := field(out, "id")
	if id == "" {
		c.t.Fatalf("no capture id in %q", out)
	}
	return id
}

// fetch stops the capture (if it runs) and downloads it.
func (c *capEnv) fetch(id string) string {
	c.t.Helper()
	_, _, _ = sbcctl(c.t, "op", "-admin", c.admin, "capture", "stop", id)
	file := filepath.Join(c.dir, id+".pcapng")
	c.ctl("capture", "get", id, file)
	return file
}

func (c *capEnv) api(path string, v any) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+c.admin+path, nil)
	req.Header.Set("Authorization", "Bearer op")
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		c.t.Fatalf("GET %s: %s %s", path, res.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// sipFrame is one SIP message as tshark decodes it from a capture.
type sipFrame struct {
	callID, method, status, comment, protocols string
}

func (c *capEnv) sipFrames(file string, opts ...string) []sipFrame {
	c.t.Helper()
	args := append([]string{"-r", file}, opts...)
	args = append(args, "-Y", "sip", "-T", "fields", "-E", "separator=|", "-e", "sip.Call-ID", "-e", "sip.CSeq.method",
		"-e", "sip.Status-Code", "-e", "frame.comment", "-e", "frame.protocols")
	out, err := exec.Command(c.tshark, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("tshark: %v\n%s", err, out)
	}
	var frames []sipFrame
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			continue
		}
		frames = append(frames, sipFrame{f[0], f[1], f[2], f[3], f[4]})
	}
	return frames
}

// wantWholeDialogs asserts that the capture holds both legs' dialogs of
// one call: two Call-IDs, each with INVITE, 200 to INVITE, ACK, BYE and
// 200 to BYE, and returns the Call-IDs with their realm.
func (c *capEnv) wantWholeDialogs(frames []sipFrame) map[string]string {
	c.t.Helper()
	type tally struct{ invite, invite200, ack, bye, bye200 int }
	per := map[string]*tally{}
	realms := map[string]string{}
	for _, f := range frames {
		tl := per[f.callID]
		if tl == nil {
			tl = &tally{}
			per[f.callID] = tl
		}
		switch {
		case f.method == "INVITE" && f.status == "":
			tl.invite++
		case f.method == "INVITE" && f.status == "200":
			tl.invite200++
		case f.method == "ACK":
			tl.ack++
		case f.method == "BYE" && f.status == "":
			tl.bye++
		case f.method == "BYE" && f.status == "200":
			tl.bye200++
		}
		if !strings.Contains(f.comment, "kind=sip") || !strings.Contains(f.comment, "call=") {
			c.t.Errorf("frame of %s has comment %q, want kind=sip and the call", f.callID, f.comment)
		}
		for _, r := range []string{"access", "core"} {
			if strings.Contains(f.comment, "realm="+r+" ") {
				if prev, ok := realms[f.callID]; ok && prev != r {
					c.t.Errorf("Call-ID %s in realms %s and %s", f.callID, prev, r)
				}
				realms[f.callID] = r
			}
		}
	}
	if len(per) != 2 {
		c.t.Errorf("capture holds %d Call-IDs, want both legs' 2: %+v", len(per), frames)
	}
	for id, tl := range per {
		// each message in and out of sbcd: a leg's INVITE is received once
		// or sent once (retransmissions are not seen)
		if tl.invite < 1 || tl.invite200 < 1 || tl.ack < 1 || tl.bye < 1 || tl.bye200 < 1 {
			c.t.Errorf("dialog %s incomplete in the capture: %+v", id, *tl)
		}
	}
	if len(realms) == 2 {
		seen := map[string]bool{}
		for _, r := range realms {
			seen[r] = true
		}
		if !seen["access"] || !seen["core"] {
			c.t.Errorf("legs' realms %v, want access and core", realms)
		}
	}
	return realms
}

// rtpStreams counts the RTP streams tshark finds (from the SDP).
func (c *capEnv) rtpStreams(file string) int {
	c.t.Helper()
	out, err := exec.Command(c.tshark, "-r", file, "-q", "-z", "rtp,streams").CombinedOutput()
	if err != nil {
		c.t.Fatalf("tshark rtp: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "PCMA") || strings.Contains(line, "g711A") {
			n++
		}
	}
	return n
}

// Capture by the caller's address records the whole call, not only the
// packets to and from the caller: both legs' SIP and the RTP/RTCP of both
// legs (the address filter once captured only the caller's leg). The ring
// of recent SIP downloads and decodes too, and the capture counters are
// in the metrics and the API.
func TestCaptureByAddressRecordsWholeCall(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	c := newCapEnv(t, 126, nil)
	id := c.start("addr:" + c.topo.CallerIP(0))
	callee := c.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := c.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	c.callEnded(cr)
	time.Sleep(300 * time.Millisecond) // the 200 to the BYE, the last RTCP
	file := c.fetch(id)

	frames := c.sipFrames(file)
	realms := c.wantWholeDialogs(frames)
	if n := c.rtpStreams(file); n < 4 {
		t.Errorf("%d RTP streams in the capture, want 4 (both directions of both legs)", n)
	}
	// media records carry their realm-less comment with the call, and
	// each leg's RTP is there: sbcd's media ports of both realms
	out, err := exec.Command(c.tshark, "-r", file, "-Y", "rtp || rtcp", "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "frame.comment").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	ips := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 {
			ips[f[0]], ips[f[1]] = true, true
			if !strings.Contains(f[2], "kind=rtp") && !strings.Contains(f[2], "kind=rtcp") {
				t.Errorf("media frame comment %q", f[2])
			}
		}
	}
	for _, ip := range []string{c.topo.CallerIP(0), c.topo.AccessIP(), c.topo.CoreIP(), c.topo.GatewayIP(0)} {
		if !ips[ip] {
			t.Errorf("no RTP/RTCP to or from %s in the capture (addresses %v)", ip, ips)
		}
	}
	// the section comment names the filter
	sh, err := exec.Command("capinfos", file).CombinedOutput()
	if err == nil && !strings.Contains(string(sh), "filter=addr:"+c.topo.CallerIP(0)) {
		t.Errorf("capinfos shows no section comment with the filter:\n%s", sh)
	}

	// the ring of recent SIP: both dialogs, downloaded and decoded
	ringID := field(c.ctl("capture", "ring"), "ID")
	if ringID == "" {
		t.Fatal("sbcctl capture ring printed no ID")
	}
	ring := c.fetch(ringID)
	ringFrames := c.sipFrames(ring)
	ringIDs := map[string]bool{}
	for _, f := range ringFrames {
		ringIDs[f.callID] = true
	}
	for id := range realms {
		if !ringIDs[id] {
			t.Errorf("ring lacks Call-ID %s", id)
		}
	}

	var st struct{ Accepted, Dropped, Written uint64 }
	c.api("/api/v1/captures/stats", &st)
	if st.Accepted == 0 || st.Written == 0 || st.Dropped != 0 {
		t.Errorf("capture stats %+v: want records accepted and written, none dropped", st)
	}
	m := scrape(t, c.admin)
	if m[`openborder_capture_records_total{outcome="written"}`] == 0 {
		t.Errorf("openborder_capture_records_total{outcome=\"written\"} is 0")
	}
	if _, ok := m[`openborder_capture_records_total{outcome="dropped"}`]; !ok {
		t.Errorf("no openborder_capture_records_total{outcome=\"dropped\"} in the metrics")
	}
}

// A capture by either leg's Call-ID, started while the call is up,
// records the rest of the whole call; a capture rule of the policy
// (trunk:pbx) records the whole call from its INVITE and starts again
// when stopped.
func TestCaptureByCallIDAndPolicyRule(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	c := newCapEnv(t, 127, func(cfg *policy.Config) {
		cfg.Capture.Rules = []policy.CaptureRule{{Filter: "trunk:pbx", Duration: 10 * time.Minute}}
	})
	var list []struct {
		ID, Filter string
		Running    bool
	}
	ruleID := ""
	for deadline := time.Now().Add(5 * time.Second); ruleID == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c.api("/api/v1/captures", &list)
		for _, l := range list {
			if l.Filter == "trunk:pbx" && l.Running {
				ruleID = l.ID
			}
		}
	}
	if ruleID == "" {
		t.Fatalf("no running capture of the rule trunk:pbx: %+v", list)
	}
	callee := c.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := c.caller("caller", "uac_rtp.xml", 0, nil)
	var calls []struct {
		ID   string
		Legs []struct {
			CallID string `json:"call_id"`
		}
	}
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c.api("/api/v1/calls", &calls)
		if len(calls) == 1 && len(calls[0].Legs) == 2 {
			break
		}
	}
	if len(calls) != 1 || len(calls[0].Legs) != 2 {
		t.Fatalf("calls during the call: %+v", calls)
	}
	byLeg := map[string]string{}
	for _, l := range calls[0].Legs {
		byLeg[l.CallID] = c.start("call:" + l.CallID)
	}
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	c.callEnded(cr)
	time.Sleep(300 * time.Millisecond)

	for callID, id := range byLeg {
		frames := c.sipFrames(c.fetch(id))
		ids := map[string]int{}
		byes := 0
		for _, f := range frames {
			ids[f.callID]++
			if f.method == "BYE" {
				byes++
			}
		}
		if len(ids) != 2 || ids[callID] == 0 || byes < 4 {
			t.Errorf("capture by Call-ID %s: Call-IDs %v, %d BYE and 200s; want both legs with BYE/200 each", callID, ids, byes)
		}
	}

	file := c.fetch(ruleID)
	c.wantWholeDialogs(c.sipFrames(file))
	if n := c.rtpStreams(file); n < 4 {
		t.Errorf("%d RTP streams in the rule's capture, want 4", n)
	}
	// the rule's capture starts again
	renewed := false
	for deadline := time.Now().Add(4 * time.Second); !renewed && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c.api("/api/v1/captures", &list)
		for _, l := range list {
			renewed = renewed || l.Filter == "trunk:pbx" && l.Running && l.ID != ruleID
		}
	}
	if !renewed {
		t.Errorf("the rule's capture did not start again after it was stopped: %+v", list)
	}
}
