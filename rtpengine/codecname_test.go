package rtpengine

import (
	"testing"

	"github.com/pion/sdp/v3"
)

func TestCodecName(t *testing.T) {
	for _, tc := range []struct {
		name, sdp, want string
	}{
		{"static without rtpmap", "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", "PCMU/8000"},
		{"rtpmap lower case", "m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 pcma/8000\r\n", "PCMA/8000"},
		{"opus keeps its name", "m=audio 4000 RTP/AVP 111 0\r\na=rtpmap:111 OPUS/48000/2\r\n", "opus/48000"},
		{"events and comfort noise skipped", "m=audio 4000 RTP/AVP 101 13 9\r\na=rtpmap:101 telephone-event/8000\r\n", "G722/8000"},
		{"dynamic without rtpmap skipped", "m=audio 4000 RTP/AVP 96 18\r\n", "G729/8000"},
		{"rejected line", "m=audio 0 RTP/AVP 0\r\n", ""},
		{"only events", "m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sd sdp.SessionDescription
			raw := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + tc.sdp
			if err := sd.UnmarshalString(raw); err != nil {
				t.Fatal(err)
			}
			if got := codecName(sd.MediaDescriptions[0]); got != tc.want {
				t.Errorf("codecName = %q, want %q", got, tc.want)
			}
		})
	}
}
