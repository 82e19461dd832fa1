package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openborder/openborder/rtpengine/conference"
)

// TestConferenceCommands runs sbcctl conference against a fake admin API
// and checks the requests it makes and the tables it prints.
func TestConferenceCommands(t *testing.T) {
	room := conference.RoomInfo{Name: "42", Created: time.Now().Add(-90 * time.Second), Ticks: 4500, Overruns: 1,
		MaxTick: 3 * time.Millisecond, Participants: []conference.ParticipantInfo{
			{ID: "ob-1-a", Codec: "pcmu", Ptime: 20 * time.Millisecond, Joined: time.Now(), Stats: conference.ParticipantStats{PacketsIn: 10, PacketsOut: 11}},
			{ID: "ob-2-b", Codec: "opus", Ptime: 20 * time.Millisecond, Joined: time.Now(), Muted: true, Talking: true},
		}}
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		var body any
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v1/conferences":
			body = []conference.RoomInfo{room}
		case r.Method == "GET" && r.URL.Path == "/api/v1/conferences/42":
			body = room
		case r.URL.Path == "/api/v1/conferences/42/participants/ob-2-b/mute":
			body = map[string]any{"room": "42", "id": "ob-2-b", "muted": r.Method == "POST"}
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found","reason":"conference: room \"9\" not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	defer srv.Close()
	t.Setenv("SBCCTL_TOKEN", "tok")
	tests := []struct {
		args []string
		code int
		req  string
		want []string
	}{
		{[]string{"conference", "list"}, 0, "GET /api/v1/conferences", []string{"ROOM", "42", "2", "1m30s"}},
		{[]string{"conference", "show", "42"}, 0, "GET /api/v1/conferences/42", []string{"ob-1-a", "pcmu", "ob-2-b", "opus", "true", "overruns"}},
		{[]string{"conference", "mute", "42", "ob-2-b"}, 0, "POST /api/v1/conferences/42/participants/ob-2-b/mute", []string{"muted", "ob-2-b"}},
		{[]string{"conference", "unmute", "42", "ob-2-b"}, 0, "DELETE /api/v1/conferences/42/participants/ob-2-b/mute", []string{"unmuted"}},
		{[]string{"conference", "show", "9"}, 1, "GET /api/v1/conferences/9", nil},
		{[]string{"conference", "mute", "42"}, 2, "", nil},
		{[]string{"conference"}, 2, "", nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got = nil
			var out, errb bytes.Buffer
			if code := run(append([]string{"-admin", srv.URL}, tc.args...), &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d: %s %s", code, tc.code, out.String(), errb.String())
			}
			if tc.req != "" && (len(got) != 1 || got[0] != tc.req+" Bearer tok") {
				t.Errorf("requests %q, want %q", got, tc.req)
			}
			if tc.req == "" && len(got) != 0 {
				t.Errorf("a usage error sent %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tc.code == 1 && !strings.Contains(errb.String(), "not found") {
				t.Errorf("stderr %q", errb.String())
			}
		})
	}
	var out bytes.Buffer
	if err := showConferences(&out, []byte("[]")); err != nil || !strings.Contains(out.String(), "(no conferences)") {
		t.Errorf("empty list: %v %q", err, out.String())
	}
	if err := showConference(&out, []byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}
