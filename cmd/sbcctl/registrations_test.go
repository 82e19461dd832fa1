package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/sbc"
)

func TestShowOutbound(t *testing.T) {
	regs := []sbc.OutboundRegistration{
		{Trunk: "carrier", AOR: "sip:4930123@carrier.example", Registrar: "192.0.2.10:5060", State: sbc.RegRegistered,
			LastStatus: 200, Expires: time.Now().Add(10 * time.Minute)},
		{Trunk: "backup", AOR: "sip:77@192.0.2.20", Registrar: "192.0.2.20:5060", State: sbc.RegFailed,
			LastStatus: 403, LastError: "registration refused: 403 Forbidden", Failures: 3},
	}
	doc, err := json.Marshal(regs)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := showOutbound(&out, doc); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TRUNK\tAOR") {
		t.Fatalf("table:\n%s", out.String())
	}
	if f := strings.Split(lines[1], "\t"); f[3] != "registered" || !strings.HasPrefix(f[4], "9m") || f[6] != "200" {
		t.Errorf("registered row %q", f)
	}
	if f := strings.Split(lines[2], "\t"); f[3] != "failed" || f[4] != "-" || f[5] != "3" || !strings.Contains(f[6], "403 Forbidden") {
		t.Errorf("failed row %q", f)
	}
	out.Reset()
	if err := showOutbound(&out, []byte("[]")); err != nil || !strings.Contains(out.String(), "(no outbound registrations)") {
		t.Errorf("empty: %v %q", err, out.String())
	}
	if err := showOutbound(&out, []byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}
