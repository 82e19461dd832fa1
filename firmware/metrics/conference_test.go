package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/openborder/openborder/rtpengine/conference"
)

// confMedia is a media plane with a real conference bridge.
type confMedia struct {
	fakeMedia
	b *conference.Bridge
}

func (m confMedia) ConferenceStats() conference.BridgeStats { return m.b.Stats() }

// TestConferenceMetrics joins participants to a real bridge (two rooms
// at most, two participants each) and reads the metrics after joins,
// refusals of both kinds and leaves.
func TestConferenceMetrics(t *testing.T) {
	b, err := conference.NewBridge(conference.Config{MaxParticipants: 2, MaxRooms: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r := New(Config{Media: confMedia{b: b}, Version: "test"})
	join := func(room string, i int) (*conference.Participant, error) {
		return b.Join(room, conference.ParticipantConfig{ID: fmt.Sprint("call-", i), Codec: "pcmu", Output: func([]byte) {}})
	}
	var parts []*conference.Participant
	for i, room := range []string{"a", "a", "b"} {
		p, err := join(room, i)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if _, err := join("a", 9); !errors.Is(err, conference.ErrFull) {
		t.Fatalf("third in a full room: %v", err)
	}
	if _, err := join("c", 10); !errors.Is(err, conference.ErrTooManyRooms) {
		t.Fatalf("a third room: %v", err)
	}
	if _, err := join("d", 11); !errors.Is(err, conference.ErrTooManyRooms) {
		t.Fatalf("a fourth room: %v", err)
	}
	check := func(rooms, participants, joins, full, tooMany float64) {
		t.Helper()
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"openborder_conference_rooms", nil, rooms},
			{"openborder_conference_participants", nil, participants},
			{"openborder_conference_joins_total", nil, joins},
			{"openborder_conference_refusals_total", map[string]string{"reason": "full"}, full},
			{"openborder_conference_refusals_total", map[string]string{"reason": "rooms"}, tooMany},
		} {
			if got := value(t, r, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
	}
	check(2, 3, 3, 1, 2)
	b.Leave(parts[0])
	b.Leave(parts[2])
	check(1, 1, 3, 1, 2)
}
