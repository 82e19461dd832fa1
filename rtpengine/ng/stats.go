package ng

import (
	"github.com/openborder/openborder/rtpengine"
)

// statsReply renders call statistics in the shape rtpengine uses for query
// and delete replies:
//
//	created, created_us
//	tags: {<tag>: {tag, in dialogue with, medias: [{index, type, streams:
//	       [{local port, endpoint{family,address,port}, flags, stats{packets,bytes,errors}}]}]}}
//	totals: {RTP: {packets, bytes, errors}, RTCP: {packets, bytes, errors}}
//
// "stats" counts what was received from the stream's peer, as rtpengine
// does; OpenBorder adds "sent" (packets, bytes), "lost", "duplicates",
// "jitter" (ms) and "RTT" (µs) per stream, "codec" per stream, "MOS" (×10,
// as rtpengine reports it) and "R-factor" per call and per tag, and
// "transcoded" ("yes") and "recording" (the main file's path) per call.
func statsReply(cs rtpengine.CallStats) Value {
	d := okReply(6)
	if !cs.Created.IsZero() {
		d.Set("created", Int(cs.Created.Unix()))
		d.Set("created_us", Int(int64(cs.Created.Nanosecond()/1000)))
	}
	var pkts, bytes, errs uint64
	tags := NewDict(len(cs.Legs))
	for i, leg := range cs.Legs {
		t := NewDict(3)
		t.Set("tag", Str(leg.Tag))
		if len(cs.Legs) == 2 {
			t.Set("in dialogue with", Str(cs.Legs[1-i].Tag))
		}
		if leg.Interface != "" {
			t.Set("interface", Str(leg.Interface))
		}
		if leg.MOS > 0 {
			t.Set("MOS", Int(int64(leg.MOS*10+0.5)))
			t.Set("R-factor", Int(int64(leg.RFactor+0.5)))
		}
		medias := Value{Kind: KindList, List: make([]Value, 0, len(leg.Streams))}
		for j, st := range leg.Streams {
			pkts += st.PacketsIn
			bytes += st.BytesIn
			errs += st.Dropped
			m := NewDict(3)
			m.Set("index", Int(int64(j+1)))
			m.Set("type", Str(st.Media))
			m.Set("streams", List(streamDict(st)))
			medias.List = append(medias.List, m)
		}
		t.Set("medias", medias)
		tags.Set(leg.Tag, t)
	}
	d.Set("tags", tags)
	totals := NewDict(2)
	totals.Set("RTP", counters(pkts, bytes, errs))
	totals.Set("RTCP", counters(0, 0, 0))
	d.Set("totals", totals)
	if cs.MOS > 0 {
		d.Set("MOS", Int(int64(cs.MOS*10+0.5)))
		d.Set("R-factor", Int(int64(cs.RFactor+0.5)))
	}
	if cs.Transcoded {
		d.Set("transcoded", Str("yes"))
	}
	if cs.RecordingPath != "" {
		d.Set("recording", Str(cs.RecordingPath))
	}
	return d
}

func streamDict(st rtpengine.StreamStats) Value {
	s := NewDict(6)
	if st.Local.IsValid() {
		s.Set("local port", Int(int64(st.Local.Port())))
	}
	if st.Peer.IsValid() {
		ep := NewDict(3)
		family := "IPv4"
		if !st.Peer.Addr().Unmap().Is4() {
			family = "IPv6"
		}
		ep.Set("family", Str(family))
		ep.Set("address", Str(st.Peer.Addr().Unmap().String()))
		ep.Set("port", Int(int64(st.Peer.Port())))
		s.Set("endpoint", ep)
	}
	s.Set("flags", List(Str("RTP")))
	if st.Codec != "" {
		s.Set("codec", Str(st.Codec))
	}
	stats := counters(st.PacketsIn, st.BytesIn, st.Dropped)
	stats.Set("lost", Int(clamp(st.Lost)))
	stats.Set("duplicates", Int(clamp(st.Duplicates)))
	stats.Set("jitter", Int(st.Jitter.Milliseconds()))
	stats.Set("RTT", Int(st.RTT.Microseconds()))
	s.Set("stats", stats)
	sent := NewDict(2)
	sent.Set("packets", Int(clamp(st.PacketsOut)))
	sent.Set("bytes", Int(clamp(st.BytesOut)))
	s.Set("sent", sent)
	if x := st.XR; x != nil {
		// the peer's own RTCP XR VoIP metrics: rates in 1/256, MOS x10
		xr := NewDict(7)
		xr.Set("loss rate", Int(int64(x.LossRate*256+0.5)))
		xr.Set("discard rate", Int(int64(x.DiscardRate*256+0.5)))
		xr.Set("R-factor", Int(int64(x.RFactor)))
		xr.Set("MOS-LQ", Int(int64(x.MOSLQ*10+0.5)))
		xr.Set("MOS-CQ", Int(int64(x.MOSCQ*10+0.5)))
		xr.Set("RTT", Int(x.RTT.Milliseconds()))
		xr.Set("end system delay", Int(x.EndSystemDelay.Milliseconds()))
		s.Set("XR", xr)
	}
	return s
}

func counters(p, b, e uint64) Value {
	d := NewDict(3)
	d.Set("packets", Int(clamp(p)))
	d.Set("bytes", Int(clamp(b)))
	d.Set("errors", Int(clamp(e)))
	return d
}

func clamp(u uint64) int64 {
	if u > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(u)
}
