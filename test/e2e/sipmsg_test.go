package e2e

import (
	"errors"
	"strings"
	"testing"
)

const sampleLog = "----------------------------------------------- 2026-01-02 10:00:00.100000\n" +
	"UDP message sent (300 bytes):\n\n" +
	"INVITE sip:service@127.9.2.10:5090 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.9.1.10:5061;branch=z9hG4bK-1-1-0\r\n" +
	"f: <sip:caller@127.9.1.10:5061>;tag=111SIPpTag001\r\n" +
	"To: <sip:service@127.9.2.10:5090>\r\n" +
	"i: 1-111@127.9.1.10\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 40\r\n\r\n" +
	"v=0\r\nc=IN IP4 127.9.1.10\r\nm=audio 6000 RTP/AVP 8\r\na=sendonly\r\n\n" +
	"----------------------------------------------- 2026-01-02 10:00:00.200000\n" +
	"UDP message received [200] bytes :\n\n" +
	"SIP/2.0 200 OK\r\n" +
	"Via: SIP/2.0/UDP 127.9.1.10:5061;branch=z9hG4bK-1-1-0, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n" +
	"From: <sip:caller@127.9.1.10:5061>;tag=111SIPpTag001\r\n" +
	"To: <sip:service@127.9.2.10:5090>;tag=222\r\n" +
	"Call-ID: 1-111@127.9.1.10\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Content-Length: 0\r\n\r\n\n"

func TestParseMessageLog(t *testing.T) {
	msgs, err := ParseMessageLog([]byte(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	inv, ok := msgs[0], msgs[1]
	tests := []struct {
		name      string
		got, want any
	}{
		{"invite sent", inv.Sent, true},
		{"200 received", ok.Sent, false},
		{"method", inv.Method(), "INVITE"},
		{"response method", ok.Method(), "INVITE"},
		{"status", ok.Status(), 200},
		{"request uri", inv.RequestURI(), "sip:service@127.9.2.10:5090"},
		{"compact call-id", inv.CallID(), "1-111@127.9.1.10"},
		{"compact from tag", inv.FromTag(), "111SIPpTag001"},
		{"to tag", ok.ToTag(), "222"},
		{"no to tag", inv.ToTag(), ""},
		{"max-forwards", inv.MaxForwards(), 70},
		{"missing max-forwards", ok.MaxForwards(), -1},
		{"two vias", len(ok.Branches()), 2},
		{"sendonly", SDPAttr(inv.Body, "sendonly"), true},
		{"timestamp order", ok.Time.After(inv.Time), true},
		{"raw ends with CRLF", strings.HasSuffix(ok.Raw, "\r\n\r\n"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	addr, port, err := SDPConnection(inv.Body)
	if err != nil || addr != "127.9.1.10" || port != 6000 {
		t.Errorf("SDPConnection = %q %d %v", addr, port, err)
	}
}

func TestParseMessageErrors(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"empty", ""},
		{"not sip", "hello world\r\n\r\n"},
		{"header without colon", "OPTIONS sip:a SIP/2.0\r\nbroken\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseMessage(tc.raw); !errors.Is(err, ErrBadMessage) {
				t.Errorf("err = %v, want ErrBadMessage", err)
			}
		})
	}
	if _, _, err := SDPConnection("v=0\r\n"); !errors.Is(err, ErrBadMessage) {
		t.Errorf("SDPConnection without c=/m=: %v", err)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=y\r\n\r\nv=0")
	f.Add("SIP/2.0 200 OK\r\nt: <sip:a>;tag=1\r\n ;x\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := ParseMessage(raw)
		if err != nil {
			return
		}
		_ = m.Method()
		_ = m.Status()
		_ = m.Branches()
		_, _ = m.CSeq()
	})
}

func TestParseStats(t *testing.T) {
	data := "StartTime;SuccessfulCall(C);FailedCall(C);\n" +
		"2026-01-02\t10:00:00.1;0;0;\n" +
		"2026-01-02\t10:00:30.1;58;2;\n"
	rows, err := ParseStats([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if n, err := last.Int("SuccessfulCall(C)"); err != nil || n != 58 {
		t.Errorf("SuccessfulCall = %d %v", n, err)
	}
	if _, err := last.Int("Nope"); !errors.Is(err, ErrBadStats) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := ParseStats([]byte("a;b;\n1;\n")); !errors.Is(err, ErrBadStats) {
		t.Errorf("short row: %v", err)
	}
}
