package rtpengine

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDemux(t *testing.T) {
	ext := rtpPacket(0, 1, 0, 1, 8)
	ext[0] |= 0x10
	ext[14], ext[15] = 0, 1 // one extension word
	padded := rtpPacket(0, 1, 0, 1, 8)
	padded[0] |= 0x20
	padded[len(padded)-1] = 4
	csrc := rtpPacket(0, 1, 0, 1, 8)
	csrc[0] |= 2
	compound := append(rtcpSR(1, 2, 3), rtcpRR(1, 2, 0, 0)...)
	for _, tt := range []struct {
		name   string
		b      []byte
		want   packetKind
		hdrLen int
	}{
		{"empty", nil, kindInvalid, 0},
		{"rtp", rtpPacket(0, 1, 0, 1, 160), kindRTP, 12},
		{"rtp marker pt 96", rtpPacket(0x80|96, 1, 0, 1, 10), kindRTP, 12},
		{"rtp extension", ext, kindRTP, 20},
		{"rtp padding", padded, kindRTP, 12},
		{"rtp csrc", csrc, kindRTP, 20},
		{"rtp header only", rtpPacket(0, 1, 0, 1, 0), kindRTP, 12},
		{"rtp truncated", rtpPacket(0, 1, 0, 1, 0)[:8], kindInvalid, 0},
		{"rtp version 3", []byte{0xC0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, kindOther, 0},
		{"rtp zero padding", func() []byte { p := rtpPacket(0, 1, 0, 1, 4); p[0] |= 0x20; p[len(p)-1] = 0; return p }(), kindInvalid, 0},
		{"rtcp sr", rtcpSR(1, 2, 3), kindRTCP, 0},
		{"rtcp compound", compound, kindRTCP, 0},
		{"rtcp trailing garbage", append(rtcpSR(1, 2, 3), 1, 2), kindInvalid, 0},
		{"rtcp short", []byte{0x80, 200, 0, 0}, kindInvalid, 0},
		{"stun", []byte{0, 1, 0, 0}, kindSTUN, 0},
		{"dtls", []byte{22, 254, 253}, kindDTLS, 0},
		{"turn channel", []byte{0x40, 0, 0, 4}, kindTURN, 0},
		{"other", []byte{0xff}, kindOther, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h rtpHeader
			got := demux(tt.b, &h)
			if got != tt.want {
				t.Fatalf("kind %v, want %v", got, tt.want)
			}
			if got == kindRTP && h.headerLen != tt.hdrLen {
				t.Fatalf("header length %d, want %d", h.headerLen, tt.hdrLen)
			}
		})
	}
}

func TestParseRTCPInfo(t *testing.T) {
	b := append(rtcpSR(1, 0x1111ABCD, 0xEF012222), rtcpRR(2, 1, 0xABCDEF01, 99)...)
	ri := parseRTCPInfo(b)
	if ri.srNTPMid != 0xABCDEF01 || ri.lsr != 0xABCDEF01 || ri.dlsr != 99 {
		t.Fatalf("%+v", ri)
	}
}

// rtcpXRVoIP builds an RTCP XR packet (RFC 3611) with one VoIP metrics
// block: loss 12/256, discard 3/256, RTT 40 ms, end-system delay 60 ms,
// R 88, MOS-LQ 4.2, MOS-CQ 4.1.
func rtcpXRVoIP(ssrc uint32) []byte {
	b := make([]byte, 8+36)
	b[0], b[1] = 0x80, 207
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)/4-1))
	binary.BigEndian.PutUint32(b[4:], ssrc)
	v := b[8:]
	v[0] = 7
	binary.BigEndian.PutUint16(v[2:], 8)
	binary.BigEndian.PutUint32(v[4:], 0x5555)
	v[8], v[9] = 12, 3
	binary.BigEndian.PutUint16(v[16:], 40)
	binary.BigEndian.PutUint16(v[18:], 60)
	v[24], v[25], v[26], v[27] = 88, 127, 42, 41
	return b
}

func TestParseRTCPXR(t *testing.T) {
	// an RR first, then XR with an unrelated block (BT 4, receiver
	// reference time) before the VoIP metrics block
	xr := rtcpXRVoIP(9)
	withRRT := append(append([]byte{}, xr[:8]...), 4, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8)
	withRRT = append(withRRT, xr[8:]...)
	binary.BigEndian.PutUint16(withRRT[2:], uint16(len(withRRT)/4-1))
	b := append(rtcpRR(9, 1, 0, 0), withRRT...)
	if !validRTCP(b) {
		t.Fatal("test packet is not valid RTCP")
	}
	m := unpackXR(parseRTCPInfo(b).xr)
	if m == nil {
		t.Fatal("VoIP metrics block not found")
	}
	want := XRMetrics{LossRate: 12.0 / 256, DiscardRate: 3.0 / 256, RFactor: 88, MOSLQ: 4.2, MOSCQ: 4.1,
		RTT: 40 * time.Millisecond, EndSystemDelay: 60 * time.Millisecond}
	if *m != want {
		t.Fatalf("got %+v\nwant %+v", *m, want)
	}
	if parseRTCPInfo(rtcpRR(9, 1, 0, 0)).xr != 0 || unpackXR(0) != nil {
		t.Fatal("an RR alone reports XR metrics")
	}
	// a truncated VoIP block (length says 36 bytes, 20 present) is ignored
	short := append([]byte{}, xr[:28]...)
	binary.BigEndian.PutUint16(short[2:], uint16(len(short)/4-1))
	if parseRTCPInfo(short).xr != 0 {
		t.Fatal("truncated VoIP metrics block parsed")
	}
}

// fuzzEndpoint is an endpoint pair without sockets for driving handle.
func fuzzEndpoints() (*reader, *endpoint) {
	a := &endpoint{pp: &portPair{}}
	b := &endpoint{pp: &portPair{}}
	dst := netip.MustParseAddrPort("127.0.0.1:4000")
	b.sigRTP.Store(&dst)
	b.sigRTCP.Store(&dst)
	a.partner.Store(b)
	b.partner.Store(a)
	a.params.Store(&mediaParams{})
	return &reader{ep: a}, b
}

func FuzzDemux(f *testing.F) {
	f.Add(rtpPacket(0, 1, 0, 1, 160))
	f.Add(rtcpSR(1, 2, 3))
	f.Add(append(rtcpSR(1, 2, 3), rtcpRR(1, 2, 3, 4)...))
	f.Add([]byte{0, 1, 0, 0})
	f.Add(append(rtcpRR(1, 1, 0, 0), rtcpXRVoIP(1)...))
	src := netip.MustParseAddrPort("127.0.0.1:5000")
	f.Fuzz(func(t *testing.T, b []byte) {
		var h rtpHeader
		k := demux(b, &h)
		switch k {
		case kindRTP:
			if h.headerLen < 12 || h.headerLen > len(b) {
				t.Fatalf("header length %d of %d bytes", h.headerLen, len(b))
			}
		case kindRTCP:
			_ = parseRTCPInfo(b)
		}
		r, peer := fuzzEndpoints()
		_, _, _, ok := r.handle(b, src, 1)
		if ok != (k == kindRTP || k == kindRTCP) {
			t.Fatalf("kind %v forwarded=%v", k, ok)
		}
		if !ok && r.ep.c.dropped.Load() != 1 {
			t.Fatalf("dropped packet not counted")
		}
		if ok && peer.c.packetsOut.Load() != 1 {
			t.Fatalf("forwarded packet not counted")
		}
	})
}

func FuzzSDPRewrite(f *testing.F) {
	for _, name := range []string{"basic.offer.sdp", "basic.answer.sdp", "multi.offer.sdp", "ipv6inactive.offer.sdp"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, mux bool) {
		sd, streams, err := parseSDP(b)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		ports := make([]int, len(streams))
		muxes := make([]bool, len(streams))
		for i := range ports {
			ports[i], muxes[i] = 30000+2*i, mux
		}
		flags := &Flags{Codecs: []string{"PCMU", "opus"}, ReplaceSessionConnection: mux, ICE: "force"}
		err = rewrite(sd, rewriteOpts{addr: loopback, ports: ports, mux: muxes, flags: flags, ice: &iceCreds{"u", "p"}})
		if err != nil {
			if !errors.Is(err, ErrNoCodec) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		var os originState
		out, err := os.stamp(sd, mux, loopback, 1)
		if err != nil {
			return // pion cannot always marshal what it parsed
		}
		if _, again, err := parseSDP(out); err != nil || len(again) != len(streams) {
			t.Fatalf("rewritten SDP does not parse back (%v):\n%s", err, out)
		}
	})
}
