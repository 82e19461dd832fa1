//go:build cgo

package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/rfc4733"
	"github.com/openborder/openborder/policy"
)

// sendOpusEvents sends, from an Opus caller, 200 ms of Opus silence, then
// each key as an RFC 4733 event at 48 kHz (PT 110, 80 ms, every packet
// twice, three end packets) followed by 80 ms of Opus silence, paced in
// real time, as a WebRTC endpoint does.
func (p *opusPeer) sendOpusEvents(t *testing.T, dst *net.UDPAddr, keys string) {
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := rfc4733.NewSender(rfc4733.SenderConfig{ClockRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	var seq uint16
	var ts uint32 = 4800
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	send := func(pt uint8, marker bool, pts uint32, payload []byte) {
		pkt := make([]byte, 12+len(payload))
		pkt[0], pkt[1] = 0x80, pt
		if marker {
			pkt[1] |= 0x80
		}
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], pts)
		binary.BigEndian.PutUint32(pkt[8:], 0x0ba5)
		copy(pkt[12:], payload)
		_, _ = p.conn.WriteToUDP(pkt, dst)
	}
	silence := make([]int16, 960)
	out := make([]byte, 1500)
	audio := func(frames int) {
		for range frames {
			<-tick.C
			n, err := enc.Encode(silence, out)
			if err != nil {
				t.Error(err)
				return
			}
			send(111, seq == 0, ts, out[:n])
			seq++
			ts += 960
		}
	}
	audio(10)
	for i := range len(keys) {
		code, _ := rfc4733.Code(keys[i])
		pkts, err := snd.Digit(nil, code, ts, 80*48)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range pkts {
			if j < len(pkts)-2 {
				<-tick.C
			}
			var pl [4]byte
			_ = e.Event.Put(pl[:])
			send(110, e.Marker, e.Timestamp, pl[:])
			send(110, e.Marker, e.Timestamp, pl[:]) // a duplicate, same sequence number
			seq++
		}
		ts += 80 * 48
		audio(4)
	}
	audio(10)
}

// TestDTMFTranscodedCall: an Opus caller (access realm, rfc4733) sends
// every key as telephone-events through a trunk that takes only PCMU and
// signals digits in-band. sbcd transcodes the call and turns the events
// into tones inside the transcoding pipeline: the callee's Goertzel
// detector must hear every digit exactly once, in order, and the digits
// are counted once as rfc4733 and listed once in the CDR.
func TestDTMFTranscodedCall(t *testing.T) {
	t.Parallel()
	oc := startOpusDTMFCall(t, 115, policy.DTMFInband, "a=fmtp:111 useinbandfec=1\r\n")
	sbcd, calleeMedia, callee, a, caller, answer, ctx := oc.sbcd, oc.calleeMedia, oc.callee, oc.a, oc.caller, oc.answer, oc.ctx
	if !strings.Contains(string(answer), "telephone-event/48000") {
		t.Errorf("the Opus caller's answer lacks its telephone-event:\n%s", answer)
	}
	a.sendOpusEvents(t, answerAddr(t, answer), dtmfSeq)
	time.Sleep(300 * time.Millisecond)
	events, inband := calleeMedia.received(t)
	if inband != dtmfSeq {
		t.Errorf("callee heard %q, want %q\n%s", inband, dtmfSeq, sbcd.Dump(30))
	}
	if events != "" || callee.digits() != "" {
		t.Errorf("inband callee also got events %q, INFO %q", events, callee.digits())
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := oc.lastCDRDTMF(); got != dtmfSeq {
		t.Errorf("CDR dtmf %q, want %q", got, dtmfSeq)
	}
	m := scrape(t, oc.admin)
	if k := `openborder_dtmf_digits_total{method="rfc4733"}`; m[k] != float64(len(dtmfSeq)) {
		t.Errorf("%s = %v, want %d", k, m[k], len(dtmfSeq))
	}
}

// TestDTMFTranscodedInfo: the same Opus caller (rfc4733) through a
// PCMU-only trunk that signals digits with SIP INFO. The caller's
// telephone-events reach the callee as INFO, once each; the callee's INFO
// digits reach the caller as telephone-events at 48 kHz, generated inside
// the transcoding pipeline, once each; the CDR lists all 32.
func TestDTMFTranscodedInfo(t *testing.T) {
	t.Parallel()
	oc := startOpusDTMFCall(t, 119, policy.DTMFInfo, "")
	sbcd, calleeMedia, callee, a, caller, answer, ctx := oc.sbcd, oc.calleeMedia, oc.callee, oc.a, oc.caller, oc.answer, oc.ctx

	// Caller -> callee: telephone-events become INFO.
	a.sendOpusEvents(t, answerAddr(t, answer), dtmfSeq)
	time.Sleep(300 * time.Millisecond)
	if got := callee.digits(); got != dtmfSeq {
		t.Errorf("callee got INFO digits %q, want %q\n%s", got, dtmfSeq, sbcd.Dump(30))
	}

	// Callee -> caller: INFO digits ride on the callee's audio as events.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				calleeMedia.audio(200*time.Millisecond, nil)
			}
		}
	}()
	for i := range len(dtmfSeq) {
		code, err := callee.info(dtmfSeq[i], 100*time.Millisecond)
		if err != nil || code != 200 {
			t.Fatalf("INFO %c: %d %v", dtmfSeq[i], code, err)
		}
		time.Sleep(170 * time.Millisecond) // a 100 ms event and its end packets take 8 frames
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	a.mu.Lock()
	events, pts := string(a.events), fmt.Sprint(a.pts)
	a.mu.Unlock()
	if events != dtmfSeq {
		t.Errorf("caller got events %q, want %q (payload types %s)", events, dtmfSeq, pts)
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := oc.lastCDRDTMF(); got != dtmfSeq+dtmfSeq {
		t.Errorf("CDR dtmf %q, want %q", got, dtmfSeq+dtmfSeq)
	}
	m := scrape(t, oc.admin)
	for _, method := range []string{policy.DTMFRFC4733, policy.DTMFInfo} {
		if k := fmt.Sprintf(`openborder_dtmf_digits_total{method="%s"}`, method); m[k] != float64(len(dtmfSeq)) {
			t.Errorf("%s = %v, want %d", k, m[k], len(dtmfSeq))
		}
	}
}

// opusDTMFCall is a call from an Opus caller (access realm, rfc4733 at
// 48 kHz) through a trunk that takes only PCMU and signals digits as
// trunkDTMF says, with CDRs and the admin listener on.
type opusDTMFCall struct {
	sbcd        *Sbcd
	calleeMedia *mediaEnd
	callee      *sipCallee
	a           *opusPeer
	caller      *GoCaller
	answer      []byte
	ctx         context.Context
	dir, admin  string
}

// startOpusDTMFCall sets the call up on net netN; fmtp is extra SDP
// for the caller's Opus format. The caller is closed when the test ends.
func startOpusDTMFCall(t *testing.T, netN int, trunkDTMF, fmtp string) *opusDTMFCall {
	t.Helper()
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	oc := &opusDTMFCall{dir: t.TempDir(), admin: fmt.Sprintf("127.%d.3.1:9090", netN)}
	cfg := topo.Config()
	cfg.Realms[0].Media.Codecs = []string{"opus", "telephone-event"}
	cfg.Realms[0].Media.DTMF = policy.DTMFRFC4733
	cfg.Trunks[0].Codecs = []string{"PCMU"}
	cfg.Trunks[0].DTMF = trunkDTMF
	cfg.CDR = policy.CDRConfig{Dir: oc.dir, Formats: []string{"jsonl"}}
	cfg.Admin.Address = oc.admin
	cfgPath := filepath.Join(oc.dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	oc.sbcd = StartSbcd(t, bin, cfgPath)

	oc.calleeMedia = newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	oc.callee = newSIPCallee(t, topo.GatewayIP(0), GatewayPort, oc.calleeMedia)
	ip := topo.CallerIP(0)
	oc.a = newOpusPeer(t, ip, CallerMediaPort)
	var err error
	if oc.caller, err = NewGoCaller(ip, CallerPort); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oc.caller.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	oc.ctx = ctx
	offer := fmt.Appendf(nil, "v=0\r\no=opus 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 111 110\r\n"+
		"a=rtpmap:111 opus/48000/2\r\n%sa=rtpmap:110 telephone-event/48000\r\na=fmtp:110 0-16\r\n"+
		"a=rtcp-mux\r\na=sendrecv\r\n", ip, ip, CallerMediaPort, fmtp)
	if oc.answer, err = oc.caller.Call(ctx, "1000", topo.AccessSIP(), offer); err != nil {
		t.Fatalf("call: %v\n%s", err, oc.sbcd.Dump(30))
	}
	return oc
}

// lastCDRDTMF waits up to 5 s for the CDR file and returns the digits of
// its last record.
func (oc *opusDTMFCall) lastCDRDTMF() string {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if recs := readCDRsIfAny(filepath.Join(oc.dir, "cdr.jsonl")); len(recs) > 0 {
			return recs[len(recs)-1].DTMF
		}
	}
	return ""
}
