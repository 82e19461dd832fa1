package rtpengine

import (
	"net/netip"
	"testing"
)

func TestMetricsCountLiveAndReleasedTraffic(t *testing.T) {
	e := newTestEngine(t, 42280, netip.Addr{}, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "metrics", a, b)
	for i := range uint16(4) {
		a.send(rtpPacket(0, 10+i, 160*uint32(i), 0xA, 160), sbcA)
		expectRTP(t, b, 10+i, sbcB)
	}
	m := e.Metrics()
	if m.Calls != 1 || m.Streams != 2 {
		t.Fatalf("calls %d streams %d, want 1 and 2", m.Calls, m.Streams)
	}
	if m.Traffic.PacketsIn != 4 || m.Traffic.PacketsOut != 4 || m.Traffic.BytesIn != 4*172 {
		t.Fatalf("live traffic %+v", m.Traffic)
	}
	if len(m.Pools) != 2 || m.Pools[0].Name != "access" || m.Pools[0].InUse != 1 || m.Pools[0].Capacity != 10 {
		t.Fatalf("pools %+v", m.Pools)
	}
	// Only the stream from a's peer received RTP: the mean over active
	// streams is its MOS.
	q, err := e.Query("metrics")
	if err != nil {
		t.Fatal(err)
	}
	var legMOS []float64
	for _, l := range q.Legs {
		if l.MOS > 0 {
			legMOS = append(legMOS, l.MOS)
		}
	}
	if len(legMOS) != 1 || m.MOSStreams != 1 || m.MeanMOS != legMOS[0] || m.MeanMOS < 4 {
		t.Fatalf("mean MOS %.3f over %d streams, leg MOS %v", m.MeanMOS, m.MOSStreams, legMOS)
	}
	if _, err := e.Delete("metrics", ""); err != nil {
		t.Fatal(err)
	}
	m = e.Metrics()
	if m.Calls != 0 || m.Streams != 0 || m.Pools[0].InUse != 0 || m.Pools[1].InUse != 0 || m.MeanMOS != 0 || m.MOSStreams != 0 {
		t.Fatalf("after delete: %+v", m)
	}
	if m.Traffic.PacketsIn != 4 || m.Traffic.PacketsOut != 4 {
		t.Fatalf("released traffic lost: %+v", m.Traffic)
	}
}
