package e2e

import (
	"strings"
	"testing"
)

func mustMsg(t *testing.T, raw string) Message {
	t.Helper()
	m, err := ParseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The caller side (access realm) of a call: what identifies it.
func accessSide(t *testing.T) []Message {
	return []Message{mustMsg(t, "INVITE sip:svc@127.9.1.1:5060 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.9.1.10:5061;branch=z9hG4bK-caller-1\r\n"+
		"From: <sip:caller@127.9.1.10:5061>;tag=CallerTag01\r\n"+
		"To: <sip:svc@127.9.1.1:5060>\r\n"+
		"Call-ID: a-leg-call-id-42\r\nCSeq: 1 INVITE\r\n\r\n")}
}

func TestScanLeaks(t *testing.T) {
	topo := Topology{Net: 9}
	f := NewForbidden()
	f.Add("access address", topo.AccessIdentifiers(1)...)
	f.AddDialogIDs("access", accessSide(t))

	clean := "INVITE sip:svc@127.9.2.10:5090 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.9.2.1:5080;branch=z9hG4bK-sbc-b-1\r\n" +
		"From: <sip:caller@127.9.2.1>;tag=SbcTagB\r\n" +
		"To: <sip:svc@127.9.2.10:5090>\r\n" +
		"Call-ID: b-leg-77\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\r\n" +
		"v=0\r\nc=IN IP4 127.9.2.1\r\nm=audio 31000 RTP/AVP 8\r\n"
	tests := []struct {
		name    string
		raw     string
		wantWhy []string // reasons expected, in any order; empty = clean
	}{
		{"clean", clean, nil},
		{"caller IP in SDP", strings.Replace(clean, "c=IN IP4 127.9.2.1", "c=IN IP4 127.9.1.10", 1), []string{"access address"}},
		{"A-leg Call-ID copied", strings.Replace(clean, "b-leg-77", "a-leg-call-id-42", 1), []string{"access Call-ID"}},
		{"From tag copied, other case", strings.Replace(clean, "SbcTagB", "CALLERTAG01", 1), []string{"access From tag"}},
		{"Via of caller kept", strings.Replace(clean, "Call-ID:", "Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK-caller-1\r\nCall-ID:", 1), []string{"access Via branch"}},
		{"access listener in Record-Route", strings.Replace(clean, "Call-ID:", "Record-Route: <sip:127.9.1.1:5060;lr>\r\nCall-ID:", 1), []string{"access address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaks := ScanLeaks([]Message{mustMsg(t, tc.raw)}, f)
			if len(tc.wantWhy) == 0 {
				if len(leaks) != 0 {
					t.Fatalf("clean message reported: %v", leaks)
				}
				return
			}
			if len(leaks) == 0 {
				t.Fatalf("leak not found, want %v", tc.wantWhy)
			}
			for _, want := range tc.wantWhy {
				found := false
				for _, l := range leaks {
					if l.Why == want {
						found = true
						if !strings.Contains(strings.ToLower(l.Line), l.Token) {
							t.Errorf("leak line %q does not hold token %q", l.Line, l.Token)
						}
					}
				}
				if !found {
					t.Errorf("no leak with reason %q in %v", want, leaks)
				}
			}
		})
	}
}

func TestForbiddenIgnoresShortTokens(t *testing.T) {
	f := NewForbidden()
	f.Add("short", "", "1", "abc")
	if f.Len() != 0 {
		t.Errorf("short tokens kept: %d", f.Len())
	}
	f.Add("ok", "abcd", "ABCD")
	if f.Len() != 1 {
		t.Errorf("case-insensitive duplicates: %d tokens", f.Len())
	}
}
