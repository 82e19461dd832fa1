package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openborder/openborder/rtpengine/conference"
)

// Conferences is the media plane's conference bridge as metrics see it;
// a Config.Media that implements it gets the conference metrics.
type Conferences interface {
	ConferenceStats() conference.BridgeStats
}

// conferenceCollector reads the bridge's counts at scrape time. It has
// no per-room labels: rooms come and go with calls.
type conferenceCollector struct {
	src                              Conferences
	rooms, participants, joins, refs *prometheus.Desc
}

func newConferenceCollector(src Conferences) *conferenceCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_conference_"+name, help, labels, nil)
	}
	return &conferenceCollector{
		src:          src,
		rooms:        d("rooms", "Conference rooms open now."),
		participants: d("participants", "Participants in conference rooms now."),
		joins:        d("joins_total", "Participants admitted to conference rooms."),
		refs: d("refusals_total", "Joins refused, by reason: full (the room had conferences.max_participants), "+
			"rooms (it would have opened more than conferences.max_rooms).", "reason"),
	}
}

func (c *conferenceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rooms, c.participants, c.joins, c.refs} {
		ch <- d
	}
}

func (c *conferenceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.ConferenceStats()
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(s.Rooms))
	ch <- prometheus.MustNewConstMetric(c.participants, prometheus.GaugeValue, float64(s.Participants))
	ch <- prometheus.MustNewConstMetric(c.joins, prometheus.CounterValue, float64(s.Joins))
	ch <- prometheus.MustNewConstMetric(c.refs, prometheus.CounterValue, float64(s.RefusedFull), "full")
	ch <- prometheus.MustNewConstMetric(c.refs, prometheus.CounterValue, float64(s.RefusedRooms), "rooms")
}
