package sbc

import "testing"

func TestSecureSDP(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	tests := []struct {
		name, sdp string
		want      bool
	}{
		{"plain", head + "m=audio 4000 RTP/AVP 0\r\n", false},
		{"sdes", head + "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n", true},
		{"savp without crypto", head + "m=audio 4000 RTP/SAVP 0\r\n", false},
		{"dtls", head + "a=fingerprint:sha-256 AB:CD\r\nm=audio 4000 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\n", true},
		{"dtls without fingerprint", head + "m=audio 4000 UDP/TLS/RTP/SAVPF 111\r\n", false},
		{"one plain stream of two", head + "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 X inline:Y\r\nm=video 4002 RTP/AVP 96\r\n", false},
		{"disabled plain stream", head + "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 X inline:Y\r\nm=video 0 RTP/AVP 96\r\n", true},
		{"no media", head, false},
		{"garbage", "m=\r\nm=audio\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := secureSDP([]byte(tt.sdp)); got != tt.want {
				t.Fatalf("secureSDP = %v, want %v", got, tt.want)
			}
		})
	}
}
