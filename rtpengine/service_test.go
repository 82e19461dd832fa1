package rtpengine

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
)

func serveSDP(port uint16, formats string, rtpmaps ...string) []byte {
	lines := []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"m=audio " + itoa(int(port)) + " RTP/AVP " + formats}
	for _, r := range rtpmaps {
		lines = append(lines, "a=rtpmap:"+r)
	}
	lines = append(lines, "a=sendrecv", "m=video "+itoa(int(port)+2)+" RTP/AVP 96", "a=rtpmap:96 VP8/90000")
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestServeEcho(t *testing.T) {
	e := newTestEngine(t, 41600, netip.Addr{}, nil)
	a := newPeer(t)
	ans, err := e.Serve(context.Background(), ServeRequest{CallID: "echo", FromTag: "a", Service: "echo",
		SDP: serveSDP(a.addr.Port(), "0 8")})
	if err != nil {
		t.Fatal(err)
	}
	ports := sdpMediaPorts(t, ans)
	if len(ports) != 2 || ports[0] == 0 || ports[1] == 0 {
		t.Fatalf("answer ports %v:\n%s", ports, ans)
	}
	if !strings.Contains(string(ans), "a=sendrecv") || !strings.HasPrefix(string(ans), "v=0\r\no=- ") {
		t.Fatalf("answer:\n%s", ans)
	}
	for i := range uint16(3) {
		a.send(rtpPacket(0, 10+i, 0, 7, 160), lo(ports[0]))
		expectRTP(t, a, 10+i, lo(ports[0]))
	}
	st, err := e.Delete("echo", "a")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Legs[0].Streams[0]; s.PacketsIn != 3 || s.PacketsOut != 3 {
		t.Fatalf("echo stats %+v", s)
	}
}

func TestServeTone(t *testing.T) {
	for _, tt := range []struct {
		name    string
		formats string
		maps    []string
		service string
		pt      uint8
		freq    float64
		alaw    bool
	}{
		{"pcmu first", "0 8", nil, "tone", 0, 1000, false},
		{"pcma first", "101 8 0", []string{"101 telephone-event/8000"}, "tone", 8, 1000, true},
		{"400 Hz", "0", nil, "tone:400", 0, 400, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, 41640, netip.Addr{}, nil)
			a := newPeer(t)
			ans, err := e.Serve(context.Background(), ServeRequest{CallID: "tone", FromTag: "a", Service: tt.service,
				SDP: serveSDP(a.addr.Port(), tt.formats, tt.maps...)})
			if err != nil {
				t.Fatal(err)
			}
			ports := sdpMediaPorts(t, ans)
			if len(ports) != 2 || ports[1] != 0 {
				t.Fatalf("video not rejected: %v\n%s", ports, ans)
			}
			if !strings.Contains(string(ans), "RTP/AVP "+itoa(int(tt.pt))+"\r\n") {
				t.Fatalf("answer does not pick %d:\n%s", tt.pt, ans)
			}
			var pcm []int16
			var ssrc uint32
			var lastSeq uint16
			var lastTS uint32
			for i := range 25 { // half a second
				b, from, ok := a.recv(2 * time.Second)
				if !ok {
					t.Fatalf("no tone packet %d", i)
				}
				if from != lo(ports[0]) || len(b) != 172 || b[0] != 0x80 || b[1]&0x7f != tt.pt {
					t.Fatalf("packet %d from %v: % x", i, from, b[:12])
				}
				seq, ts, s := binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
				if i > 0 && (s != ssrc || seq != lastSeq+1 || ts != lastTS+160) {
					t.Fatalf("packet %d: ssrc %x seq %d ts %d after %x %d %d", i, s, seq, ts, ssrc, lastSeq, lastTS)
				}
				ssrc, lastSeq, lastTS = s, seq, ts
				for _, c := range b[12:] {
					if tt.alaw {
						pcm = append(pcm, codecs.AlawDecode(c))
					} else {
						pcm = append(pcm, codecs.UlawDecode(c))
					}
				}
			}
			crossings := 0
			var sum float64
			for i := 1; i < len(pcm); i++ {
				if pcm[i-1] < 0 && pcm[i] >= 0 {
					crossings++
				}
				sum += float64(pcm[i]) * float64(pcm[i])
			}
			freq := float64(crossings) * 8000 / float64(len(pcm))
			if math.Abs(freq-tt.freq) > tt.freq*0.02 {
				t.Fatalf("tone at %v Hz, want %v", freq, tt.freq)
			}
			dbm0 := 20*math.Log10(math.Sqrt(sum/float64(len(pcm)))*math.Sqrt2/32767) + 3.17
			if math.Abs(dbm0-toneLevel) > 0.5 {
				t.Fatalf("level %.2f dBm0, want %v", dbm0, toneLevel)
			}
			if _, err := e.Delete("tone", ""); err != nil {
				t.Fatal(err)
			}
			for { // drain what was in flight, then silence
				if _, _, ok := a.recv(100 * time.Millisecond); !ok {
					break
				}
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	e := newTestEngine(t, 41680, netip.Addr{}, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		r    ServeRequest
		want error
	}{
		{"no g711", ServeRequest{CallID: "s1", FromTag: "a", Service: "tone", SDP: serveSDP(4000, "9 18")}, ErrBadSDP},
		{"unknown service", ServeRequest{CallID: "s2", FromTag: "a", Service: "music", SDP: serveSDP(4000, "0")}, ErrBadFlags},
		{"bad tone", ServeRequest{CallID: "s3", FromTag: "a", Service: "tone:20000", SDP: serveSDP(4000, "0")}, ErrBadFlags},
		{"unknown interface", ServeRequest{CallID: "s4", FromTag: "a", Service: "echo", Interface: "x", SDP: serveSDP(4000, "0")}, ErrUnknownInterface},
		{"no tag", ServeRequest{CallID: "s5", Service: "echo", SDP: serveSDP(4000, "0")}, ErrBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Serve(ctx, tt.r); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	if ids := e.List(0); len(ids) != 0 {
		t.Fatalf("calls left: %v", ids)
	}
}
