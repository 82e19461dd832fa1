package main

import "testing"

// TestMaxPlayback: the generator reads maxplaybackrate from the relay's
// answer for its payload type only, and keeps its Opus encoder to the
// bandwidth a WebRTC endpoint would.
func TestMaxPlayback(t *testing.T) {
	answer := []byte("v=0\r\nm=audio 4000 RTP/AVP 111 110\r\na=fmtp:110 maxplaybackrate=24000\r\n" +
		"a=fmtp:111 useinbandfec=1; maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n")
	if got := maxPlayback(answer, "111"); got != 8000 {
		t.Fatalf("maxplaybackrate %d, want 8000", got)
	}
	if got := maxPlayback([]byte("m=audio 4000 RTP/AVP 111\r\na=fmtp:111 useinbandfec=1\r\n"), "111"); got != 48000 {
		t.Fatalf("without the parameter: %d, want 48000", got)
	}
	for _, c := range []struct{ playback, bw int }{{8000, 4000}, {12000, 6000}, {16000, 8000}, {24000, 12000}, {48000, 20000}} {
		if got := opusBandwidth(c.playback); got != c.bw {
			t.Errorf("opusBandwidth(%d) = %d, want %d", c.playback, got, c.bw)
		}
	}
}
