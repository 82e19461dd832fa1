package sbc

import (
	"testing"
	"time"
)

func TestParseDTMFInfo(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		key               byte
		dur               time.Duration
		isDTMF, bad       bool
	}{
		{"dtmf-relay", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true, false},
		{"dtmf-relay star lf spaces", "Application/DTMF-Relay; charset=x", "signal = *\nduration = 250\n", '*', 250 * time.Millisecond, true, false},
		{"dtmf-relay code 11", "application/dtmf-relay", "Signal=11\r\nDuration=100", '#', 100 * time.Millisecond, true, false},
		{"dtmf-relay lower d", "application/dtmf-relay", "Signal=d", 'D', 0, true, false},
		{"dtmf", "application/dtmf", "9\r\n", '9', 0, true, false},
		{"dtmf-relay bad signal", "application/dtmf-relay", "Signal=x\r\nDuration=100", 0, 0, true, true},
		{"dtmf-relay no signal", "application/dtmf-relay", "Duration=100", 0, 0, true, true},
		{"dtmf-relay bad duration", "application/dtmf-relay", "Signal=1\r\nDuration=-5", 0, 0, true, true},
		{"dtmf two keys", "application/dtmf", "12", 0, 0, true, true},
		{"other body", "application/media_control+xml", "<x/>", 0, 0, false, false},
		{"no body type", "", "", 0, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, d, ok, err := parseDTMFInfo(tc.ctype, []byte(tc.body))
			if ok != tc.isDTMF || (err != nil) != tc.bad {
				t.Fatalf("ok %v err %v; want ok %v bad %v", ok, err, tc.isDTMF, tc.bad)
			}
			if !tc.bad && (key != tc.key || d != tc.dur) {
				t.Fatalf("key %q duration %v; want %q %v", key, d, tc.key, tc.dur)
			}
		})
	}
}

func TestDTMFRelayBody(t *testing.T) {
	for _, tc := range []struct {
		key  byte
		d    time.Duration
		want string
	}{
		{'5', 160 * time.Millisecond, "Signal=5\r\nDuration=160\r\n"},
		{'#', 0, "Signal=#\r\nDuration=100\r\n"},
	} {
		body := dtmfRelayBody(tc.key, tc.d)
		if string(body) != tc.want {
			t.Errorf("body %q, want %q", body, tc.want)
		}
		key, d, ok, err := parseDTMFInfo("application/dtmf-relay", body)
		if !ok || err != nil || key != tc.key || (tc.d != 0 && d != tc.d) {
			t.Errorf("round trip of %q: %q %v %v %v", body, key, d, ok, err)
		}
	}
}
