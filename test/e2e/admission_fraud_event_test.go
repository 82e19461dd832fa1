package e2e

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

// TestAdmissionFraudBlockEventAndExpiry: an account (the caller's From
// user, no authentication) may make one international call an hour. The
// second breaches the rule: 403 with a Reason, a structured log line, a
// metric and an obAccountBlocked notification at snmpd's trap sink. While
// blocked, ordinary calls get 403 but an emergency call is routed and
// answered; when block_time has passed, ordinary calls go through again.
func TestAdmissionFraudBlockEventAndExpiry(t *testing.T) {
	t.Parallel()
	const netN = 91
	RequireTool(t, "snmpget")
	traps, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer traps.Close()
	snmpPort, axPort := startSnmpd(t, traps.LocalAddr().(*net.UDPAddr).Port)
	admin := fmt.Sprintf("127.%d.3.1:9090", netN)
	const blockTime = 3 * time.Second
	e := newGoEnv(t, netN, func(c *policy.Config) {
		c.Admin.Address = admin
		c.SNMP.AgentX = fmt.Sprintf("tcp:127.0.0.1:%d", axPort)
		c.Realms[0].Emergency = []string{"911"}
		c.Fraud = policy.FraudConfig{BlockTime: blockTime, Rules: []policy.FraudRuleConfig{
			{Name: "international", Prefix: "00", CallsPerHour: 1}}}
	})
	// The notification is only sent once sbcd's subagent is registered.
	target := fmt.Sprintf("127.0.0.1:%d", snmpPort)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if strings.Contains(snmpRun(t, "snmpget", "-v2c", "-c", "e2e", "-On", "-t", "1", "-r", "0", target, oidConfigHash), "STRING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sbcd's subagent did not register with snmpd")
		}
	}
	gw := startGoGateway(t, e.topo.GatewayIP(0), GatewayPort)
	caller := newGoCaller(t, e.topo.CallerIP(0), e.topo.AccessSIP())

	if r := caller.call("0044201234", 0); r.Code != 200 {
		t.Fatalf("first international call: %d", r.Code)
	}
	breach := caller.call("0044201235", 0)
	if breach.Code != 403 || !strings.Contains(breach.Reason, "international") || !strings.Contains(breach.Reason, "calls_per_hour") {
		t.Fatalf("second international call: %d %q, want 403 naming the rule and limit", breach.Code, breach.Reason)
	}
	blockedAt := time.Now()
	l, err := e.sbcd.WaitMsg("toll-fraud rule breached: account blocked", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs(t, l, map[string]string{"account": "access:gocaller", "rule": "international", "limit": "calls_per_hour"})

	// Blocked for every destination but emergency numbers.
	if r := caller.call("5000", 0); r.Code != 403 {
		t.Fatalf("call of a blocked account: %d, want 403", r.Code)
	}
	if r := caller.call("911", 0); r.Code != 200 {
		t.Fatalf("emergency call of a blocked account: %d, want 200", r.Code)
	}
	if u := gw.calledUsers(); fmt.Sprint(u) != "[0044201234 911]" {
		t.Fatalf("gateway got %v, want the first international call and 911", u)
	}

	m := scrape(t, admin)
	if n := m[`openborder_fraud_blocks_total{limit="calls_per_hour",rule="international"}`]; n != 1 {
		t.Errorf("fraud_blocks_total = %v, want 1", n)
	}
	buf := make([]byte, 4096)
	_ = traps.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := traps.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no obAccountBlocked notification at the trap sink: %v", err)
		}
		if bytes.Contains(buf[:n], []byte("gocaller")) && bytes.Contains(buf[:n], []byte("international calls_per_hour until ")) {
			break
		}
	}

	// The block expires after block_time.
	time.Sleep(time.Until(blockedAt.Add(blockTime + 200*time.Millisecond)))
	if r := caller.call("5000", 0); r.Code != 200 {
		t.Fatalf("call after the block expired: %d, want 200", r.Code)
	}
}
