package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/rtpengine/ng"
)

// nodeEngine is a media node's engine that records what it was asked.
type nodeEngine struct {
	mu      sync.Mutex
	offers  []rtpengine.OfferRequest
	answers []rtpengine.AnswerRequest
	err     error
}

func (n *nodeEngine) Offer(_ context.Context, r rtpengine.OfferRequest) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offers = append(n.offers, r)
	return []byte("v=0\r\nm=audio 40000 RTP/AVP 0\r\n"), n.err
}

func (n *nodeEngine) Answer(_ context.Context, r rtpengine.AnswerRequest) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answers = append(n.answers, r)
	return []byte("v=0\r\nm=audio 40002 RTP/AVP 0\r\n"), n.err
}

func (n *nodeEngine) Delete(callID, _ string) (rtpengine.CallStats, error) {
	return rtpengine.CallStats{CallID: callID, MOS: 4.1, Transcoded: true, RecordingPath: "/var/rec/c1.wav",
		Legs: []rtpengine.LegStats{
			{Tag: "A", MOS: 4.1, Streams: []rtpengine.StreamStats{{Codec: "opus/48000", PacketsIn: 250, BytesIn: 43000, Lost: 2, Jitter: 3 * time.Millisecond}}},
			{Tag: "B", MOS: 4.3, Streams: []rtpengine.StreamStats{{Codec: "PCMA/8000", PacketsIn: 240}}},
		}}, nil
}

func (n *nodeEngine) Query(string) (rtpengine.CallStats, error) { return rtpengine.CallStats{}, nil }
func (n *nodeEngine) List(int) []string                         { return nil }

func startNode(t *testing.T, eng ng.Engine) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ng.NewServer(eng, nil)
	done := make(chan struct{})
	go func() { _ = srv.Serve(context.Background(), pc); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return pc.LocalAddr().String()
}

// TestRemoteMediaCarriesEveryFlag: what the adapter asks of a remote node
// arrives at the node's engine as the same flags the in-process engine
// would get (WebRTC ICE/rtcp-mux, SRTP profile, codecs, recording), and the
// node's delete statistics come back whole.
func TestRemoteMediaCarriesEveryFlag(t *testing.T) {
	eng := &nodeEngine{}
	rm, err := newRemoteMedia([]string{startNode(t, eng)}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	ctx := context.Background()
	offer := rtpengine.Flags{FromInterface: "core", ToInterface: "access", ICE: "force", RTCPMux: "offer",
		TransportProtocol: "UDP/TLS/RTP/SAVPF", Codecs: []string{"PCMU", "opus"}, Record: true,
		ReplaceOrigin: true, ReplaceSessionConnection: true}
	if _, err := rm.Offer(ctx, rtpengine.OfferRequest{CallID: "c1", FromTag: "B", ToTag: "A", SDP: []byte("v=0\r\n"), Flags: offer}); err != nil {
		t.Fatal(err)
	}
	answer := rtpengine.Flags{FromInterface: "core", ToInterface: "access", ICE: "force", RTCPMux: "accept",
		ReplaceOrigin: true, ReplaceSessionConnection: true}
	if _, err := rm.Answer(ctx, rtpengine.AnswerRequest{CallID: "c1", FromTag: "B", ToTag: "A", SDP: []byte("v=0\r\n"), Flags: answer}); err != nil {
		t.Fatal(err)
	}
	eng.mu.Lock()
	gotO, gotA := eng.offers[0], eng.answers[0]
	eng.mu.Unlock()
	if !reflect.DeepEqual(gotO.Flags, offer) || gotO.FromTag != "B" || gotO.ToTag != "A" {
		t.Errorf("node got offer %+v, want flags %+v", gotO, offer)
	}
	if !reflect.DeepEqual(gotA.Flags, answer) {
		t.Errorf("node got answer flags %+v, want %+v", gotA.Flags, answer)
	}
	st, err := rm.Delete("c1", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Legs) != 2 || st.Legs[0].Tag != "A" || st.Legs[0].Streams[0].PacketsIn != 250 ||
		st.Legs[0].Streams[0].Lost != 2 || st.Legs[0].Streams[0].Jitter != 3*time.Millisecond || st.MOS != 4.1 {
		t.Errorf("delete stats %+v", st)
	}
	if len(st.Legs) == 2 && (st.Legs[0].Streams[0].Codec != "opus/48000" || st.Legs[1].Streams[0].Codec != "PCMA/8000" ||
		st.Legs[0].MOS != 4.1 || st.Legs[1].MOS != 4.3 || !st.Transcoded || st.RecordingPath != "/var/rec/c1.wav") {
		t.Errorf("delete stats lost codecs, leg MOS, transcoding or recording: %+v", st)
	}
	if _, err := rm.Answer(ctx, rtpengine.AnswerRequest{CallID: "c1", FromTag: "B", ToTag: "A", SDP: []byte("v=0\r\n")}); !errors.Is(err, rtpengine.ErrNotFound) {
		t.Errorf("answer after delete: %v, want ErrNotFound", err)
	}
}

// TestRemoteMediaErrors: a node refusing SDP is bad SDP (the caller gets
// 488), a node with no ports is no ports (503).
func TestRemoteMediaErrors(t *testing.T) {
	for _, c := range []struct {
		engineErr error
		want      error
	}{
		{rtpengine.ErrBadSDP, rtpengine.ErrBadSDP},
		{rtpengine.ErrNoPorts, rtpengine.ErrNoPorts},
	} {
		eng := &nodeEngine{err: c.engineErr}
		rm, err := newRemoteMedia([]string{startNode(t, eng)}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rm.Offer(context.Background(), rtpengine.OfferRequest{CallID: "x", FromTag: "A", SDP: []byte("v=0\r\n")})
		rm.Close()
		if !errors.Is(err, c.want) {
			t.Errorf("node refusing with %v: %v, want %v", c.engineErr, err, c.want)
		}
	}
}
