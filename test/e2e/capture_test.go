package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// A capture started through sbcctl records a real call's SIP (both legs)
// and RTP (both directions), and tshark decodes the file.
func TestCaptureOfACallDecodesInTshark(t *testing.T) {
	t.Parallel()
	RequireFile(t, g711aPcap)
	tshark := RequireTool(t, "tshark")
	const net = 26
	admin := fmt.Sprintf("127.%d.3.1:9090", net)
	dir := t.TempDir()
	e := newEnv(t, net, func(c *policy.Config) {
		c.Admin = policy.AdminConfig{Address: admin, Tokens: []policy.AdminToken{{Name: "noc", Role: "operator", SHA256: tokenHash("op")}}}
		c.Capture = policy.CaptureConfig{Dir: filepath.Join(dir, "captures")}
	})
	ctl := func(args ...string) string {
		code, out, errOut := sbcctl(t, "op", append([]string{"-admin", admin}, args...)...)
		if code != 0 {
			t.Fatalf("sbcctl %v: exit %d %s %s", args, code, out, errOut)
		}
		return out
	}
	out := ctl("capture", "start", "number:service", "60s")
	id := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "id" {
			id = f[1]
		}
	}
	if id == "" {
		t.Fatalf("no capture id in %q", out)
	}
	callee := e.callee("callee", "uas_basic.xml", 0, func(o *SippOpts) { o.RTPEcho = true })
	caller := e.caller("caller", "uac_rtp.xml", 0, nil)
	cr, er := caller.Wait(t), callee.Wait(t)
	wantExit0(t, cr, er)
	e.callEnded(cr)
	time.Sleep(200 * time.Millisecond)
	ctl("capture", "stop", id)
	if list := ctl("capture", "list"); !strings.Contains(list, id) {
		t.Errorf("capture list lacks %s:\n%s", id, list)
	}
	file := filepath.Join(dir, "call.pcapng")
	ctl("capture", "get", id, file)

	sipOut, err := exec.Command(tshark, "-r", file, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID", "-e", "sip.CSeq.method", "-e", "sip.Status-Code").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, sipOut)
	}
	callIDs := map[string]bool{}
	var invites, byes int
	for _, line := range strings.Split(strings.TrimSpace(string(sipOut)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		callIDs[f[0]] = true
		if f[1] == "INVITE" {
			invites++
		}
		if f[1] == "BYE" {
			byes++
		}
	}
	if len(callIDs) != 2 || invites < 4 || byes < 4 {
		t.Errorf("capture should hold both legs' dialogs (2 Call-IDs, INVITE and BYE each way); got %d Call-IDs, %d INVITE, %d BYE:\n%s",
			len(callIDs), invites, byes, sipOut)
	}
	rtpOut, err := exec.Command(tshark, "-r", file, "-o", "rtp.heuristic_rtp:TRUE", "-q", "-z", "rtp,streams").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark rtp: %v\n%s", err, rtpOut)
	}
	streams := 0
	for _, line := range strings.Split(string(rtpOut), "\n") {
		if strings.Contains(line, "g711A") || strings.Contains(line, "ITU-T G.711 PCMA") || strings.Contains(line, "PCMA") {
			streams++
		}
	}
	if streams < 2 {
		t.Errorf("tshark found %d RTP streams in the capture, want both directions:\n%s", streams, rtpOut)
	}
}
