//go:build cgo

package rtpengine

import (
	"context"
	"encoding/binary"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var ssrcAttrRE = regexp.MustCompile(`(?m)^a=ssrc:(\d+) cname:\S+\r?$`)

// TestTranscodedAnswerDeclaresSSRC: the answer to a WebRTC (ICE/DTLS)
// offerer of a transcoded stream declares the SSRC the transcoder sends
// from, replacing whatever the answerer declared for its own stream, and
// the RTP that reaches the offerer carries exactly that SSRC. A plain RTP
// offerer gets no source attributes.
func TestTranscodedAnswerDeclaresSSRC(t *testing.T) {
	tests := []struct {
		name    string
		attrs   []string
		declare bool
	}{
		{"ice offerer", []string{"a=rtpmap:111 opus/48000/2", "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=rtcp-mux"}, true},
		{"plain offerer", []string{"a=rtpmap:111 opus/48000/2", "a=rtcp-mux"}, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newTestEngine(t, 43480+40*i, netip.Addr{}, nil)
			pa, pb := newPeer(t), newPeer(t)
			offer, err := e.Offer(ctx, OfferRequest{CallID: "s", FromTag: "a", SDP: xcodeSDP(pa.addr.Port(), "111", tc.attrs...),
				Flags: Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}})
			if err != nil {
				t.Fatal(err)
			}
			answer, err := e.Answer(ctx, AnswerRequest{CallID: "s", FromTag: "a", ToTag: "b",
				SDP: xcodeSDP(pb.addr.Port(), "0", "a=ssrc:42 cname:pbx", "a=msid:pbx-stream pbx-track")})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(answer), "a=ssrc:42 ") || strings.Contains(string(answer), "pbx-stream") {
				t.Errorf("the answerer's own source attributes reached the offerer:\n%s", answer)
			}
			m := ssrcAttrRE.FindSubmatch(answer)
			if !tc.declare {
				if m != nil || strings.Contains(string(answer), "a=msid") {
					t.Errorf("plain RTP offerer got source attributes:\n%s", answer)
				}
				return
			}
			if m == nil || !strings.Contains(string(answer), "a=msid:") {
				t.Fatalf("answer declares no SSRC/msid:\n%s", answer)
			}
			want, _ := strconv.ParseUint(string(m[1]), 10, 32)

			c := newCodecPeer(t, "pcmu", 0)
			done := make(chan struct{})
			go func() {
				defer close(done)
				stream(t, pb, lo(sdpMediaPorts(t, offer)[0]), c, 600, 400*time.Millisecond, 0)
			}()
			t.Cleanup(func() { <-done })
			var rtp int
			for rtp < 5 {
				b, _, ok := pa.recv(time.Second)
				if !ok {
					t.Fatalf("the offerer got %d RTP packets, want 5", rtp)
				}
				if len(b) < 12 || b[1]&0x7f >= 72 && b[1]&0x7f <= 76 {
					continue
				}
				if got := binary.BigEndian.Uint32(b[8:]); uint64(got) != want {
					t.Fatalf("RTP to the offerer has SSRC %d, the answer declared %d", got, want)
				}
				rtp++
			}
		})
	}
}
