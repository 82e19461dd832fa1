package rtpengine

import (
	"testing"
	"time"
)

func TestSeqState(t *testing.T) {
	type pkt struct {
		seq  uint16
		ssrc uint32
	}
	for _, tt := range []struct {
		name                    string
		pkts                    []pkt
		lost, dups, ooo, expect uint64
	}{
		{"in order", []pkt{{1, 1}, {2, 1}, {3, 1}}, 0, 0, 0, 3},
		{"gap", []pkt{{1, 1}, {2, 1}, {5, 1}}, 2, 0, 0, 5},
		{"reordered", []pkt{{1, 1}, {3, 1}, {2, 1}, {4, 1}}, 0, 0, 1, 4},
		{"duplicate", []pkt{{1, 1}, {2, 1}, {2, 1}, {1, 1}, {3, 1}}, 0, 2, 0, 3},
		{"wrap", []pkt{{65534, 1}, {65535, 1}, {0, 1}, {2, 1}}, 1, 0, 0, 5},
		{"new ssrc keeps earlier loss", []pkt{{1, 1}, {3, 1}, {500, 2}, {501, 2}}, 1, 0, 0, 5},
		{"jump restarts", []pkt{{1, 1}, {2, 1}, {30000, 1}, {30001, 1}}, 0, 0, 0, 4},
		{"very late", []pkt{{100, 1}, {101, 1}, {20, 1}}, 0, 0, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s seqState
			var c counters
			for i, p := range tt.pkts {
				h := rtpHeader{seq: p.seq, ssrc: p.ssrc, ts: uint32(i) * 160}
				s.update(&h, int64(i)*int64(20*time.Millisecond), 8000, &c)
			}
			if c.lost.Load() != tt.lost || c.duplicates.Load() != tt.dups || c.ooo.Load() != tt.ooo || c.expected.Load() != tt.expect {
				t.Fatalf("lost %d dups %d ooo %d expected %d", c.lost.Load(), c.duplicates.Load(), c.ooo.Load(), c.expected.Load())
			}
		})
	}
}

func TestJitter(t *testing.T) {
	var s seqState
	var c counters
	// 20 ms packets arriving alternately 5 ms early and late: transit
	// differences of 10 ms, so J converges towards 10 ms.
	for i := range 500 {
		at := int64(i) * int64(20*time.Millisecond)
		if i%2 == 1 {
			at += int64(10 * time.Millisecond)
		}
		h := rtpHeader{seq: uint16(i), ssrc: 9, ts: uint32(i) * 160}
		s.update(&h, at, 8000, &c)
	}
	j := time.Duration(c.jitterNs.Load())
	if j < 9500*time.Microsecond || j > 10500*time.Microsecond {
		t.Fatalf("jitter %v, want ~10ms", j)
	}
	// Perfectly paced packets: jitter decays to ~0.
	var s2 seqState
	var c2 counters
	for i := range 100 {
		h := rtpHeader{seq: uint16(i), ssrc: 9, ts: uint32(i) * 160}
		s2.update(&h, int64(i)*int64(20*time.Millisecond), 8000, &c2)
	}
	if j := c2.jitterNs.Load(); j > int64(time.Microsecond) {
		t.Fatalf("jitter of paced stream %v", time.Duration(j))
	}
}

func TestSRRingRTT(t *testing.T) {
	var r srRing
	sent := int64(10 * time.Second)
	r.put(0x12345678, sent)
	r.put(0x0000AAAA, sent)
	// Report 150 ms later, peer held the SR for 50 ms: RTT 100 ms.
	now := sent + int64(150*time.Millisecond)
	d, ok := r.rtt(0x12345678, 65536/20, now)
	if !ok || d < 99*time.Millisecond || d > 101*time.Millisecond {
		t.Fatalf("rtt %v ok %v", d, ok)
	}
	if _, ok := r.rtt(0x77777777, 0, now); ok {
		t.Fatal("unknown LSR matched")
	}
}

// RTT end to end: B sends an SR, the SBC relays it to A, A answers with
// an RR whose LSR/DLSR refer to it.
func TestRelayRTTFromRTCP(t *testing.T) {
	e := newTestEngine(t, 41780, loopback, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "rtt", a, b)
	aRTCP := newPeerAt(t, a.addr.Port()+1)
	bRTCP := newPeerAt(t, b.addr.Port()+1)
	sr := rtcpSR(0xB, 0x0000ABCD, 0xEF010000)
	bRTCP.send(sr, lo(int(sbcB.Port())+1))
	if _, _, ok := aRTCP.recv(2 * time.Second); !ok {
		t.Fatal("SR not relayed")
	}
	time.Sleep(60 * time.Millisecond)
	lsr := uint32(0xABCDEF01)
	aRTCP.send(rtcpRR(0xA, 0xB, lsr, 65536/100), lo(int(sbcA.Port())+1)) // held 10 ms
	if _, _, ok := bRTCP.recv(2 * time.Second); !ok {
		t.Fatal("RR not relayed")
	}
	st, _ := e.Query("rtt")
	rtt := st.Legs[0].Streams[0].RTT
	if rtt < 40*time.Millisecond || rtt > 200*time.Millisecond {
		t.Fatalf("RTT %v, want about 50ms", rtt)
	}
}

// TestRelayRTCPXR: a peer's RTCP XR VoIP metrics report is relayed and its
// figures show in that peer's stream statistics.
func TestRelayRTCPXR(t *testing.T) {
	e := newTestEngine(t, 42760, loopback, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, _ := relayCall(t, e, "xr", a, b)
	aRTCP := newPeerAt(t, a.addr.Port()+1)
	bRTCP := newPeerAt(t, b.addr.Port()+1)
	st, _ := e.Query("xr")
	if st.Legs[0].Streams[0].XR != nil {
		t.Fatal("XR metrics before any report")
	}
	aRTCP.send(append(rtcpRR(0xA, 0xB, 0, 0), rtcpXRVoIP(0xA)...), lo(int(sbcA.Port())+1))
	if _, _, ok := bRTCP.recv(2 * time.Second); !ok {
		t.Fatal("RR+XR not relayed")
	}
	st, _ = e.Query("xr")
	var xr *XRMetrics
	for _, l := range st.Legs {
		for _, s := range l.Streams {
			if s.XR != nil {
				xr = s.XR
			}
		}
	}
	if xr == nil || xr.MOSLQ != 4.2 || xr.RFactor != 88 || xr.RTT != 40*time.Millisecond {
		t.Fatalf("XR metrics %+v, want the report's MOS-LQ 4.2, R 88, RTT 40ms", xr)
	}
}
