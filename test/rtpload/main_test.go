package main

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestStreamStats(t *testing.T) {
	tests := []struct {
		name                                  string
		seqs                                  []uint32
		received, dups, reordered, outOfRange uint64
	}{
		{name: "in order", seqs: []uint32{0, 1, 2, 3}, received: 4},
		{name: "gap is not reordering", seqs: []uint32{0, 2, 5}, received: 3},
		{name: "late packet", seqs: []uint32{0, 2, 1, 3}, received: 4, reordered: 1},
		{name: "duplicate", seqs: []uint32{0, 1, 1, 2, 0}, received: 3, dups: 2},
		{name: "beyond what was sent", seqs: []uint32{0, 99, 100, 1000}, received: 2, outOfRange: 2},
		{name: "word boundary", seqs: []uint32{63, 64, 63, 65}, received: 3, dups: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStreamStats(100)
			for _, q := range tc.seqs {
				s.record(q)
			}
			if s.received != tc.received || s.duplicates != tc.dups || s.reordered != tc.reordered || s.outOfRange != tc.outOfRange {
				t.Errorf("received=%d dups=%d reordered=%d outOfRange=%d, want %d %d %d %d",
					s.received, s.duplicates, s.reordered, s.outOfRange, tc.received, tc.dups, tc.reordered, tc.outOfRange)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	a, b, c := newStreamStats(10), newStreamStats(10), newStreamStats(10)
	for _, q := range []uint32{0, 1, 3, 2, 2} { // 4 distinct, one late, one duplicate
		a.record(q)
	}
	for q := range uint32(10) {
		b.record(q)
	}
	c.record(9) // 9 lost
	tot, err := summarize([]uint64{5, 10, 10}, []*streamStats{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	want := totals{sent: 25, received: 15, lost: 10, duplicates: 1, reordered: 1, worstStreamLoss: 9, streamsWithLoss: 2}
	if tot != want {
		t.Errorf("got %+v, want %+v", tot, want)
	}
	if got := tot.lossPercent(); got != 40 {
		t.Errorf("loss %g%%, want 40%%", got)
	}
	if _, err := summarize([]uint64{1}, nil); err == nil {
		t.Error("mismatched lengths accepted")
	}
	if got := (totals{}).lossPercent(); got != 0 {
		t.Errorf("loss of nothing sent = %g", got)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := new(histogram)
	if h.quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	// 1..1000 µs, one sample each: nearest-rank quantiles are exact below 2048 µs
	for us := int64(1); us <= 1000; us++ {
		h.add(us * 1000)
	}
	for _, tc := range []struct {
		q    float64
		want uint64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}} {
		if got := h.quantile(tc.q); got != tc.want {
			t.Errorf("q%g = %d µs, want %d", tc.q, got, tc.want)
		}
	}
	// merging a tail moves p99 into the coarse range with < 0.1% error
	tail := new(histogram)
	for range 1000 {
		tail.add(int64(3 * time.Second))
	}
	tail.add(-5) // clamped to zero
	h.merge(tail)
	if h.n != 2001 || h.maxNs != int64(3*time.Second) {
		t.Errorf("merged n=%d max=%d", h.n, h.maxNs)
	}
	got := h.quantile(0.99)
	if want := uint64(3_000_000); got > want || got < want-want/1000 {
		t.Errorf("p99 after merge = %d µs, want within 0.1%% below %d", got, want)
	}
}

func TestBuckets(t *testing.T) {
	for _, us := range []uint64{0, 1, 2047, 2048, 2049, 4095, 4096, 1e6, 123456789, 1 << 50} {
		i := bucketOf(us)
		lo := lowerBound(i)
		if lo > us || (i+1 < numBuckets && lowerBound(i+1) <= us) {
			t.Errorf("%d µs: bucket %d starts at %d, next at %d", us, i, lo, lowerBound(i+1))
		}
	}
	if got := bucketOf(1 << 62); got != numBuckets-1 {
		t.Errorf("huge value in bucket %d", got)
	}
}

func TestProbeRoundTrip(t *testing.T) {
	pkt := newPacket(7, 160, 0, 0xabcd)
	stamp(pkt, 70000, 70000*160, 123456789)
	s, q, ns, err := probe(pkt)
	if err != nil || s != 7 || q != 70000 || ns != 123456789 {
		t.Fatalf("probe = %d %d %d %v", s, q, ns, err)
	}
	if seq16 := uint16(pkt[2])<<8 | uint16(pkt[3]); seq16 != 70000-65536 {
		t.Errorf("RTP sequence %d", seq16)
	}
	if len(pkt) != 172 || pkt[0] != 0x80 || pkt[len(pkt)-1] != 0xff {
		t.Errorf("packet layout: len %d first %#x last %#x", len(pkt), pkt[0], pkt[len(pkt)-1])
	}
	if _, _, _, err := probe(pkt[:20]); !errors.Is(err, errShort) {
		t.Errorf("short packet: %v", err)
	}
	pkt[0] = 0x40
	if _, _, _, err := probe(pkt); !errors.Is(err, errVersion) {
		t.Errorf("version 1: %v", err)
	}
}

func TestMediaTarget(t *testing.T) {
	tests := []struct {
		name, sdp string
		want      string
		err       error
	}{
		{name: "session c", sdp: "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 20002 RTP/AVP 0\r\n", want: "127.0.0.1:20002"},
		{name: "media c wins", sdp: "c=IN IP4 10.0.0.1\r\nm=audio 30000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n", want: "127.0.0.1:30000"},
		{name: "second stream ignored", sdp: "c=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 0\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.1.1.1\n", want: "127.0.0.1:4000"},
		{name: "not loopback", sdp: "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", err: errSDP},
		{name: "other loopback", sdp: "c=IN IP4 127.0.0.2\r\nm=audio 4000 RTP/AVP 0\r\n", err: errSDP},
		{name: "no media", sdp: "v=0\r\nc=IN IP4 127.0.0.1\r\n", err: errSDP},
		{name: "video first", sdp: "m=video 4000 RTP/AVP 96\r\n", err: errSDP},
		{name: "port zero", sdp: "c=IN IP4 127.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n", err: errSDP},
		{name: "bad port", sdp: "c=IN IP4 127.0.0.1\r\nm=audio 70000 RTP/AVP 0\r\n", err: errSDP},
		{name: "IPv6", sdp: "c=IN IP6 ::1\r\nm=audio 4000 RTP/AVP 0\r\n", err: errSDP},
		{name: "no address", sdp: "m=audio 4000 RTP/AVP 0\r\n", err: errSDP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mediaTarget(tc.sdp)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != netip.MustParseAddrPort(tc.want) {
				t.Fatalf("got %v %v, want %s", got, err, tc.want)
			}
		})
	}
	// what the tool offers is what it reads back
	local := netip.MustParseAddrPort("127.0.0.1:40000")
	if got, err := mediaTarget(string(audioSDP(local, ""))); err != nil || got != local {
		t.Errorf("own SDP: %v %v", got, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP openborder_media_kernel_streams Media streams forwarded in the kernel now.
# TYPE openborder_media_kernel_streams gauge
openborder_media_kernel_streams 1680
openborder_media_kernel_packets_total 2.5e+06
openborder_media_kernel_forwarding_mode{mode="on"} 1
openborder_media_calls 840
`
	got := parseMetrics(text, "openborder_media_kernel_")
	if len(got) != 2 || got["openborder_media_kernel_streams"] != 1680 || got["openborder_media_kernel_packets_total"] != 2.5e6 {
		t.Fatalf("got %v", got)
	}
}

func TestOptionsExternalRelay(t *testing.T) {
	ok := options{calls: 10, pps: 50, duration: time.Second, payload: 160, srtp: "none", receivers: 2,
		portMin: 20000, portMax: 39999, grace: time.Second, relayMode: "auto", kernel: "off"}
	for _, tt := range []struct {
		name  string
		mod   func(*options)
		valid bool
	}{
		{"sbcd", func(*options) {}, true},
		{"external", func(o *options) { o.ng, o.relayPid = "127.0.0.1:2223", 42 }, true},
		{"external without pid", func(o *options) { o.ng = "127.0.0.1:2223" }, false},
		{"external not loopback", func(o *options) { o.ng, o.relayPid = "192.0.2.1:2223", 42 }, false},
		{"external and direct", func(o *options) { o.ng, o.relayPid, o.direct = "127.0.0.1:2223", 42, true }, false},
		{"pid without ng", func(o *options) { o.relayPid = 42 }, false},
		{"goroutine relay", func(o *options) { o.relayMode = "goroutine" }, true},
		{"epoll relay with workers", func(o *options) { o.relayMode, o.workers = "epoll", 2 }, true},
		{"unknown relay", func(o *options) { o.relayMode = "kernel" }, false},
		{"negative workers", func(o *options) { o.workers = -1 }, false},
		{"kernel forwarding on", func(o *options) { o.kernel, o.netns = "on", true }, true},
		{"kernel forwarding auto", func(o *options) { o.kernel = "auto" }, true},
		{"kernel forwarding unknown", func(o *options) { o.kernel = "yes" }, false},
		{"kernel forwarding and direct", func(o *options) { o.kernel, o.direct = "on", true }, false},
		{"direct baseline in a namespace", func(o *options) { o.direct, o.netns = true, true }, true},
		{"direct SRTP baseline", func(o *options) { o.direct, o.srtp = true, "sdes" }, true},
		{"two hosts", func(o *options) { o.twoHosts, o.netns, o.kernel = true, true, "on" }, true},
		{"two hosts without a namespace", func(o *options) { o.twoHosts = true }, false},
		{"two hosts with an external relay", func(o *options) { o.twoHosts, o.netns, o.ng, o.relayPid = true, true, "127.0.0.1:2223", 42 }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.mod(&o)
			if err := o.validate(); (err == nil) != tt.valid {
				t.Fatalf("validate() = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

// TestDirectSRTPBaseline runs the -direct -srtp sdes baseline: tag B opens
// what tag A protects. The tool counts a packet that fails to open, or
// whose payload does not name its stream, as misrouted, and run fails on
// any; so a pass shows every packet went out protected and was opened.
func TestDirectSRTPBaseline(t *testing.T) {
	o := options{calls: 4, pps: 50, duration: time.Second, payload: 160, srtp: "sdes", receivers: 2, maxLoss: 0,
		direct: true, portMin: 20000, portMax: 39999, grace: time.Second, relayMode: "auto", kernel: "off"}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	// And the call is wired that way: A protects, B opens, A receives plain.
	c, err := setupCall(nil, "x", true)
	defer c.a.close()
	defer c.b.close()
	if err != nil || c.enc == nil || c.decB == nil || c.decA != nil {
		t.Fatalf("direct SDES call: enc %v decA %v decB %v, %v", c.enc != nil, c.decA != nil, c.decB != nil, err)
	}
}
