package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/openborder/openborder/cdr"
	"github.com/openborder/openborder/policy"
)

const dtmfSeq = "123A456B789C*0#D"

// TestDTMFInterworking runs one call per pair of modes through sbcd and
// sends every key of dtmfSeq both ways: from the caller (access realm) in
// its mode, then from the callee (the trunk) in the trunk's mode. Each
// far side must get every digit exactly once, in order, in its own mode
// (in-band audio decoded with the Goertzel detector), and the CDR must
// list all 32 digits.
func TestDTMFInterworking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		net           int
		access, trunk string
	}{
		{"rfc4733 and info", 80, policy.DTMFRFC4733, policy.DTMFInfo},
		{"rfc4733 and inband", 81, policy.DTMFRFC4733, policy.DTMFInband},
		{"inband and info", 82, policy.DTMFInband, policy.DTMFInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dtmfCall(t, tc.net, tc.access, tc.trunk)
		})
	}
}

func dtmfCall(t *testing.T, netN int, access, trunk string) {
	topo := Topology{Net: netN}
	bin := needSbcd(t)
	dir := t.TempDir()
	cfg := topo.Config()
	cfg.Realms[0].Media.DTMF = access
	cfg.Trunks[0].DTMF = trunk
	cfg.CDR = policy.CDRConfig{Dir: dir, Formats: []string{"jsonl"}}
	admin := fmt.Sprintf("127.%d.3.1:9090", netN)
	cfg.Admin.Address = admin
	cfgPath := filepath.Join(dir, "sbcd.yaml")
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	StartSbcd(t, bin, cfgPath)

	calleeMedia := newMediaEnd(t, topo.GatewayIP(0), CalleeMediaPort)
	callee := newSIPCallee(t, topo.GatewayIP(0), GatewayPort, calleeMedia)
	callee.events = trunk == policy.DTMFRFC4733
	callerMedia := newMediaEnd(t, topo.CallerIP(0), CallerMediaPort)
	caller, err := NewGoCaller(topo.CallerIP(0), CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answer, err := caller.Call(ctx, "1000", topo.AccessSIP(), callerMedia.sdp(access == policy.DTMFRFC4733))
	if err != nil {
		t.Fatal(err)
	}
	callerMedia.point(t, string(answer))

	// Both sides keep audio flowing (digits to a leg ride on the audio
	// the other side sends).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				calleeMedia.audio(200*time.Millisecond, nil)
			}
		}
	}()

	// Caller -> callee.
	callerMedia.audio(200*time.Millisecond, nil)
	if access == policy.DTMFRFC4733 {
		callerMedia.eventKeys(t, dtmfSeq)
	} else {
		callerMedia.audio(time.Duration(len(dtmfSeq))*160*time.Millisecond, keyGen(t, dtmfSeq))
	}
	callerMedia.audio(400*time.Millisecond, nil)
	events, inband := calleeMedia.received(t)
	switch trunk {
	case policy.DTMFInfo:
		if got := callee.digits(); got != dtmfSeq {
			t.Errorf("callee got INFO digits %q, want %q", got, dtmfSeq)
		}
		if events != "" || inband != "" {
			t.Errorf("info callee also got events %q, tones %q", events, inband)
		}
	case policy.DTMFInband:
		if inband != dtmfSeq {
			t.Errorf("callee heard %q, want %q", inband, dtmfSeq)
		}
		if events != "" || callee.digits() != "" {
			t.Errorf("inband callee also got events %q, INFO %q", events, callee.digits())
		}
	}

	// Callee -> caller: INFO digits, or tones.
	if trunk == policy.DTMFInfo {
		for i := range len(dtmfSeq) {
			code, err := callee.info(dtmfSeq[i], 100*time.Millisecond)
			if err != nil || code != 200 {
				t.Fatalf("INFO %c: %d %v", dtmfSeq[i], code, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	} else {
		stop <- struct{}{} // the silence loop ends after its current 200 ms
		calleeMedia.audio(time.Duration(len(dtmfSeq))*160*time.Millisecond, keyGen(t, dtmfSeq))
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					calleeMedia.audio(200*time.Millisecond, nil)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	events, inband = callerMedia.received(t)
	if access == policy.DTMFRFC4733 {
		if events != dtmfSeq {
			t.Errorf("caller got events %q, want %q", events, dtmfSeq)
		}
	} else if inband != dtmfSeq {
		t.Errorf("caller heard %q, want %q", inband, dtmfSeq)
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	want := dtmfSeq + dtmfSeq
	var got string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if recs := readCDRsIfAny(filepath.Join(dir, "cdr.jsonl")); len(recs) > 0 {
			got = recs[len(recs)-1].DTMF
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		t.Errorf("CDR dtmf %q, want %q", got, want)
	}
	// Each side's digits are counted once, by how they arrived.
	m := scrape(t, admin)
	count := map[string]float64{}
	for _, mode := range []string{access, trunk} {
		count[mode] += float64(len(dtmfSeq))
	}
	for _, method := range []string{policy.DTMFRFC4733, policy.DTMFInband, policy.DTMFInfo} {
		key := fmt.Sprintf(`openborder_dtmf_digits_total{method="%s"}`, method)
		if m[key] != count[method] {
			t.Errorf("%s = %v, want %v", key, m[key], count[method])
		}
	}
	t.Logf("modes %s/%s: CDR dtmf %q", access, trunk, got)
}

// readCDRsIfAny reads a CDR file that may not exist yet.
func readCDRsIfAny(path string) []cdr.Record {
	res, err := cdr.ReadFile(path)
	if err != nil {
		return nil
	}
	return res.Records
}
