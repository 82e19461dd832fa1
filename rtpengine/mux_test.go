package rtpengine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRTCPMux(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name                string
		mode                string
		aMux, bMux          bool
		offerHas, answerHas bool // a=rtcp-mux in what we send to b and to a
	}{
		{"both mux", "", true, true, true, true},
		{"keep, b refuses", "", true, false, true, false},
		{"accept, b refuses", "accept", true, false, true, true},
		{"demux", "demux", true, false, false, false},
		{"offer mux to b", "offer", false, true, true, false},
		{"require", "require", true, true, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, 41860, loopback, nil)
			a, b := newPeer(t), newPeer(t)
			var aExtra, bExtra []string
			if tt.aMux {
				aExtra = append(aExtra, "a=rtcp-mux")
			}
			if tt.bMux {
				bExtra = append(bExtra, "a=rtcp-mux")
			}
			off, err := e.Offer(ctx, OfferRequest{CallID: "m", FromTag: "a", SDP: peerSDP(a.addr.Port(), "sendrecv", aExtra...),
				Flags: Flags{ToInterface: "core", RTCPMux: tt.mode}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(off), "a=rtcp-mux"); got != tt.offerHas {
				t.Fatalf("offer to b has rtcp-mux=%v:\n%s", got, off)
			}
			if strings.Contains(string(off), "a=rtcp:") == tt.offerHas {
				t.Fatalf("offer a=rtcp wrong:\n%s", off)
			}
			ans, err := e.Answer(ctx, AnswerRequest{CallID: "m", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv", bExtra...),
				Flags: Flags{RTCPMux: tt.mode}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(ans), "a=rtcp-mux"); got != tt.answerHas {
				t.Fatalf("answer to a has rtcp-mux=%v:\n%s", got, ans)
			}
			sbcA, sbcB := lo(sdpMediaPorts(t, ans)[0]), lo(sdpMediaPorts(t, off)[0])
			// RTCP from a: on the RTP port when a muxes, else on RTP+1.
			from, to := a, sbcA
			if !tt.answerHas {
				from = newPeerAt(t, a.addr.Port()+1)
				to = lo(int(sbcA.Port()) + 1)
			}
			// b receives it on its RTP port when b muxes, else on RTP+1,
			// from our matching socket.
			rcv, wantSrc := b, sbcB
			if !(tt.bMux && tt.offerHas) {
				rcv = newPeerAt(t, b.addr.Port()+1)
				wantSrc = lo(int(sbcB.Port()) + 1)
			}
			rr := rtcpRR(1, 2, 0, 0)
			from.send(rr, to)
			got, src, ok := rcv.recv(2 * time.Second)
			if !ok || string(got) != string(rr) || src != wantSrc {
				t.Fatalf("RTCP: ok=%v from %v want %v", ok, src, wantSrc)
			}
		})
	}
}

// Re-offers while media flows: the ports stay and no packet is lost.
func TestReofferDropsNothing(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 41900, loopback, nil)
	a, b := newPeer(t), newPeer(t)
	sbcA, sbcB := relayCall(t, e, "flow", a, b)
	const n = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range uint16(n) {
			a.send(rtpPacket(0, i, uint32(i)*160, 1, 160), sbcA)
			time.Sleep(500 * time.Microsecond)
		}
	}()
	for i := range 20 {
		dir := "sendrecv"
		if i%2 == 1 {
			dir = "sendonly"
		}
		off, err := e.Offer(ctx, OfferRequest{CallID: "flow", FromTag: "a", SDP: peerSDP(a.addr.Port(), dir)})
		if err != nil {
			t.Fatal(err)
		}
		if lo(sdpMediaPorts(t, off)[0]) != sbcB {
			t.Fatalf("re-offer moved b's port")
		}
		ans, err := e.Answer(ctx, AnswerRequest{CallID: "flow", FromTag: "a", ToTag: "b", SDP: peerSDP(b.addr.Port(), "sendrecv")})
		if err != nil {
			t.Fatal(err)
		}
		if lo(sdpMediaPorts(t, ans)[0]) != sbcA {
			t.Fatalf("re-answer moved a's port")
		}
	}
	got := 0
	for got < n {
		if _, _, ok := b.recv(2 * time.Second); !ok {
			break
		}
		got++
	}
	wg.Wait()
	if got != n {
		t.Fatalf("received %d of %d", got, n)
	}
}

// Audio and video are relayed alike; a rejected stream gets no ports.
func TestRelayMultiStream(t *testing.T) {
	ctx := context.Background()
	e := newTestEngine(t, 41940, loopback, nil)
	aAudio, aVideo, bAudio, bVideo := newPeer(t), newPeer(t), newPeer(t), newPeer(t)
	sdpOf := func(audio, video uint16) []byte {
		return []byte(strings.Join([]string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
			"m=audio " + itoa(int(audio)) + " RTP/AVP 0", "m=video " + itoa(int(video)) + " RTP/AVP 96", "a=rtpmap:96 VP8/90000",
			"m=text 0 RTP/AVP 98"}, "\r\n") + "\r\n")
	}
	off, err := e.Offer(ctx, OfferRequest{CallID: "mv", FromTag: "a", SDP: sdpOf(aAudio.addr.Port(), aVideo.addr.Port()),
		Flags: Flags{ToInterface: "core"}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := e.Answer(ctx, AnswerRequest{CallID: "mv", FromTag: "a", ToTag: "b", SDP: sdpOf(bAudio.addr.Port(), bVideo.addr.Port())})
	if err != nil {
		t.Fatal(err)
	}
	po, pa := sdpMediaPorts(t, off), sdpMediaPorts(t, ans)
	if len(po) != 3 || po[2] != 0 || pa[2] != 0 {
		t.Fatalf("ports offer %v answer %v", po, pa)
	}
	if n := e.pools["access"].inUse() + e.pools["core"].inUse(); n != 4 {
		t.Fatalf("%d port pairs in use, want 4", n)
	}
	aVideo.send(rtpPacket(96, 77, 0, 5, 1000), lo(pa[1]))
	expectRTP(t, bVideo, 77, lo(po[1]))
	bAudio.send(rtpPacket(0, 78, 0, 6, 160), lo(po[0]))
	expectRTP(t, aAudio, 78, lo(pa[0]))
	st, _ := e.Query("mv")
	if s := st.Legs[0].Streams; len(s) != 2 || s[0].Media != "audio" || s[1].Media != "video" {
		t.Fatalf("streams %+v", s)
	}
}
