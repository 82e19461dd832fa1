package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/openborder/openborder/rtpengine/conference"
)

// conferenceCmd: sbcctl conference list | show ROOM | mute ROOM ID |
// unmute ROOM ID.
func conferenceCmd(c *client, o *out, args []string) error {
	const use = "conference list | conference show ROOM | conference mute ROOM ID | conference unmute ROOM ID"
	if len(args) == 0 {
		return usageError(use)
	}
	switch {
	case args[0] == "list" && len(args) == 1:
		return o.show(c.get("/api/v1/conferences"), showConferences)
	case args[0] == "show" && len(args) == 2:
		return o.show(c.get("/api/v1/conferences/"+pathEscape(args[1])), showConference)
	case (args[0] == "mute" || args[0] == "unmute") && len(args) == 3:
		method := "POST"
		if args[0] == "unmute" {
			method = "DELETE"
		}
		path := "/api/v1/conferences/" + pathEscape(args[1]) + "/participants/" + pathEscape(args[2]) + "/mute"
		return o.show(c.do(method, path, nil), showMute)
	}
	return usageError(use)
}

func showConferences(w io.Writer, b []byte) error {
	var rooms []conference.RoomInfo
	if err := json.Unmarshal(b, &rooms); err != nil {
		return err
	}
	if len(rooms) == 0 {
		fmt.Fprintln(w, "(no conferences)")
		return nil
	}
	fmt.Fprintln(w, "ROOM\tPARTICIPANTS\tMUTED\tOPEN FOR\tOVERRUNS")
	for _, r := range rooms {
		muted := 0
		for _, p := range r.Participants {
			if p.Muted {
				muted++
			}
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\n", r.Name, len(r.Participants), muted,
			time.Since(r.Created).Truncate(time.Second), r.Overruns)
	}
	return nil
}

func showConference(w io.Writer, b []byte) error {
	var r conference.RoomInfo
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "room\t%s\nopen for\t%s\nticks\t%d\noverruns\t%d\nlongest tick\t%s\n\n", r.Name,
		time.Since(r.Created).Truncate(time.Second), r.Ticks, r.Overruns, r.MaxTick)
	fmt.Fprintln(w, "PARTICIPANT\tCODEC\tPTIME\tJOINED\tMUTED\tTALKING\tIN\tOUT\tCONCEALED\tLATE")
	for _, p := range r.Participants {
		s := p.Stats
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%v\t%d\t%d\t%d\t%d\n", p.ID, p.Codec, p.Ptime,
			p.Joined.UTC().Format(time.RFC3339), p.Muted, p.Talking, s.PacketsIn, s.PacketsOut, s.Concealed, s.Late)
	}
	return nil
}

func showMute(w io.Writer, b []byte) error {
	var r struct {
		Room  string `json:"room"`
		ID    string `json:"id"`
		Muted bool   `json:"muted"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	state := "unmuted"
	if r.Muted {
		state = "muted"
	}
	fmt.Fprintf(w, "%s\t%s in room %s\n", state, r.ID, r.Room)
	return nil
}
