package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// sendPCMU streams d of 20 ms PCMU frames (silence) from conn to dst,
// paced in real time.
func sendPCMU(conn *net.UDPConn, dst *net.UDPAddr, d time.Duration) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pkt := make([]byte, 12+160)
	for i := range pkt[12:] {
		pkt[12+i] = 0xff
	}
	for i := 0; i < int(d/(20*time.Millisecond)); i++ {
		<-tick.C
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		binary.BigEndian.PutUint32(pkt[8:], 0x0c0ffee)
		_, _ = conn.WriteToUDP(pkt, dst)
	}
}

var gaugeRE = regexp.MustCompile(`= Gauge32: (\d+)`)

// TestSNMPMeanMosOfActiveStreams: obMediaMeanMos, read through a real
// snmpd, is the mean MOS of the streams active now: a clean loopback call
// with RTP both ways reads as a good MOS while it lasts, and 0 once it has
// ended (no active stream), as the MIB describes.
func TestSNMPMeanMosOfActiveStreams(t *testing.T) {
	t.Parallel()
	RequireTool(t, "snmpget")
	traps, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer traps.Close()
	snmpPort, axPort := startSnmpd(t, traps.LocalAddr().(*net.UDPAddr).Port)
	const netID = 111
	topo := Topology{Net: netID}
	bin := needSbcd(t)
	cfg := topo.Config()
	cfg.SNMP.AgentX = fmt.Sprintf("tcp:127.0.0.1:%d", axPort)
	cfgPath := t.TempDir() + "/sbcd.yaml"
	if err := WriteConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	sbcd := StartSbcd(t, bin, cfgPath)
	StartRTPPeer(t, topo.GatewayIP(0), GatewayPort, CalleeMediaPort, 600)
	target := fmt.Sprintf("127.0.0.1:%d", snmpPort)
	meanMos := func() int {
		out := snmpRun(t, "snmpget", "-v2c", "-c", "e2e", "-On", "-t", "1", "-r", "0", target, oidOB+".5.4.0")
		m := gaugeRE.FindStringSubmatch(out)
		if m == nil {
			return -1
		}
		v, _ := strconv.Atoi(m[1])
		return v
	}

	ip := topo.CallerIP(0)
	caller, err := NewGoCaller(ip, CallerPort)
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: 6000})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer := fmt.Appendf(nil, "v=0\r\no=caller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", ip, ip)
	answer, err := caller.Call(ctx, "bob", topo.AccessSIP(), offer)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, sbcd.Dump(30))
	}
	done := make(chan struct{})
	go func() { defer close(done); sendPCMU(media, answerAddr(t, answer), 4*time.Second) }()
	during := -1
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if during = meanMos(); during > 0 {
			break
		}
	}
	<-done
	// Loopback without loss: the E-model gives about 4.4 (playout delay only).
	if during < 400 || during > 450 {
		t.Errorf("obMediaMeanMos during the call = %d, want 400..450 (MOS x 100)\n%s", during, sbcd.Dump(20))
	}
	if err := caller.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	after := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if after = meanMos(); after == 0 {
			break
		}
	}
	if after != 0 {
		t.Errorf("obMediaMeanMos after the call = %d, want 0 (no active stream)", after)
	}
}
