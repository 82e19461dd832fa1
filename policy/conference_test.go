package policy

import "testing"

func TestConferenceRoom(t *testing.T) {
	s, err := Load("testdata/conference.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cc := s.Config().Conferences
	if cc.MaxParticipants != 30 || cc.MaxRooms != 10 || *cc.JoinTone || !*cc.LeaveTone || *cc.MuteDigits != "#9" || cc.JitterDepth != 3 {
		t.Fatalf("config %+v", cc)
	}
	for _, tc := range []struct {
		realm, user, room string
		ok                bool
	}{
		{"access", "conf-42", "42", true},
		{"access", "conf-sales.team_1", "sales.team_1", true},
		{"access", "conf-", "", false},
		{"access", "conf-a/b", "", false},
		{"access", "conf-" + string(make([]byte, 65)), "", false},
		{"access", "echo", "", false},
		{"core", "conf-42", "", false}, // not a conference realm
	} {
		room, ok := s.ConferenceRoom(tc.realm, tc.user)
		if room != tc.room || ok != tc.ok {
			t.Errorf("%s %q: %q %v, want %q %v", tc.realm, tc.user, room, ok, tc.room, tc.ok)
		}
	}
}

func TestConferenceDefaults(t *testing.T) {
	s, err := Load("testdata/default.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cc := s.Config().Conferences
	if cc.MaxParticipants != DefaultConferenceParticipants || cc.MaxRooms != DefaultConferenceRooms ||
		!*cc.JoinTone || !*cc.LeaveTone || *cc.MuteDigits != "*6" || cc.JitterDepth != 2 {
		t.Fatalf("defaults %+v", cc)
	}
	if _, ok := s.ConferenceRoom("access", "conf-1"); ok && cc.URIPattern == "" {
		t.Fatal("a room without uri_pattern")
	}
}
