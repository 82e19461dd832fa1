package metrics

import (
	"github.com/openborder/openborder/rtpengine"
	"github.com/prometheus/client_golang/prometheus"
)

// mediaCollector reads the media plane's snapshot at scrape time.
type mediaCollector struct {
	src Media

	calls, streams, packets, bytes, lost, dropped *prometheus.Desc
	srtpErrors, stun, dtlsPackets, dtls           *prometheus.Desc
	poolCap, poolUse                              *prometheus.Desc
	xcode, xcodeDropped, xcodeOverruns, recording *prometheus.Desc
	xcodeTotal, xcodeLatency, xcodeFrameOverruns  *prometheus.Desc
	kernMode, kernStreams, kernPackets, kernBytes *prometheus.Desc
	kernOffloads, kernFailures                    *prometheus.Desc
	kernSRTP, kernSRTPStreams, kernSRTPBack       *prometheus.Desc
	kernSRTPRuns, kernSRTPSeconds                 *prometheus.Desc
}

func newMediaCollector(src Media) *mediaCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+"_media_"+name, help, labels, nil)
	}
	return &mediaCollector{
		src:         src,
		calls:       d("calls", "Calls with media anchored now."),
		streams:     d("streams", "Anchored media streams (one per leg and m= line) now."),
		packets:     d("packets_total", "Media packets received from peers (in) and sent to them (out).", "direction"),
		bytes:       d("bytes_total", "Media bytes received from peers (in) and sent to them (out).", "direction"),
		lost:        d("lost_packets_total", "RTP packets lost on the way to sbcd (RFC 3550 sequence gaps)."),
		dropped:     d("dropped_packets_total", "Packets sbcd refused: malformed, from a non-latched source, failed SRTP, no destination."),
		srtpErrors:  d("srtp_errors_total", "Packets that failed SRTP authentication, replay checks or protection."),
		stun:        d("stun_requests_total", "STUN binding requests (ICE connectivity checks and consent) answered."),
		dtlsPackets: d("dtls_packets_total", "DTLS records received on media ports."),
		dtls:        d("dtls_handshakes_total", "DTLS-SRTP handshakes by result (ok, failed).", "result"),
		poolCap:     d("port_pool_capacity", "Port pairs a media pool can allocate.", "pool"),
		poolUse:     d("port_pool_in_use", "Port pairs of a media pool in use now.", "pool"),
		xcode:       d("transcode_sessions", "Media streams transcoded now (both directions of a stream count once)."),
		xcodeTotal:  d("transcode_sessions_total", "Media streams whose transcoding was set up since sbcd started."),
		xcodeDropped: d("transcode_dropped_packets_total",
			"Packets dropped at a full transcoding worker queue (media.transcoding.workers > 0)."),
		xcodeOverruns: d("transcode_overruns_total",
			"Packets that waited more than 20 ms for a transcoding worker (media.transcoding.workers > 0)."),
		xcodeLatency: d("transcode_processing_seconds",
			"Transcoded packets by the engine's processing time, from the packet's kernel receive time to the transcoded packet sent."),
		xcodeFrameOverruns: d("transcode_frame_overruns_total",
			"Transcoded packets whose processing time (transcode_processing_seconds) exceeded one 20 ms frame."),
		recording: d("recordings", "Calls being recorded now."),
		kernMode: d("kernel_forwarding_mode",
			"In-kernel forwarding: 1 for the mode in force (off, on, or fallback when auto found the kernel unable).", "mode"),
		kernStreams:  d("kernel_streams", "Media streams forwarded in the kernel now (both directions of a stream count once)."),
		kernPackets:  d("kernel_packets_total", "Media packets the kernel forwarded for offloaded streams (from conntrack counters)."),
		kernBytes:    d("kernel_bytes_total", "Media bytes (RTP payload and header) the kernel forwarded for offloaded streams."),
		kernOffloads: d("kernel_offloads_total", "Streams handed to the kernel."),
		kernFailures: d("kernel_offload_failures_total",
			"Kernel forwarding entries the kernel refused to create or remove (the stream stays in user space)."),
		kernSRTP:        d("kernel_srtp", "1 when SRTP <-> RTP streams are offloaded too (the in-kernel SRTP program is attached)."),
		kernSRTPStreams: d("kernel_srtp_streams", "SRTP <-> RTP streams forwarded in the kernel now (among kernel_streams)."),
		kernSRTPBack: d("kernel_srtp_taken_back_total",
			"SRTP streams returned to user space because the kernel met packets it does not handle (new SSRC, RTCP on the RTP port, over 512 bytes)."),
		kernSRTPRuns: d("kernel_srtp_program_runs_total",
			"Runs of the in-kernel SRTP program (every IPv4 datagram arriving where it is attached); counted only while kernel.bpf_stats_enabled is 1."),
		kernSRTPSeconds: d("kernel_srtp_program_seconds_total",
			"Time the in-kernel SRTP program ran; counted only while kernel.bpf_stats_enabled is 1."),
	}
}

func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.calls, c.streams, c.packets, c.bytes, c.lost, c.dropped,
		c.srtpErrors, c.stun, c.dtlsPackets, c.dtls, c.poolCap, c.poolUse,
		c.xcode, c.xcodeTotal, c.xcodeDropped, c.xcodeOverruns, c.xcodeLatency, c.xcodeFrameOverruns, c.recording,
		c.kernMode, c.kernStreams, c.kernPackets, c.kernBytes, c.kernOffloads, c.kernFailures,
		c.kernSRTP, c.kernSRTPStreams, c.kernSRTPBack, c.kernSRTPRuns, c.kernSRTPSeconds} {
		ch <- d
	}
}

func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.src.Metrics()
	t := m.Traffic
	g := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	n := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	g(c.calls, float64(m.Calls))
	g(c.streams, float64(m.Streams))
	n(c.packets, t.PacketsIn, "in")
	n(c.packets, t.PacketsOut, "out")
	n(c.bytes, t.BytesIn, "in")
	n(c.bytes, t.BytesOut, "out")
	n(c.lost, t.Lost)
	n(c.dropped, t.Dropped)
	n(c.srtpErrors, t.SRTPErrors)
	n(c.stun, t.STUN)
	n(c.dtlsPackets, t.DTLSPackets)
	n(c.dtls, t.DTLSHandshakes, "ok")
	n(c.dtls, t.DTLSFailures, "failed")
	g(c.xcode, float64(m.Transcode.Sessions))
	n(c.xcodeTotal, m.Transcode.Started)
	n(c.xcodeDropped, m.Transcode.Dropped)
	n(c.xcodeOverruns, m.Transcode.Overruns)
	n(c.xcodeFrameOverruns, m.Transcode.FrameOverruns)
	ch <- latencyHistogram(c.xcodeLatency, &m.Transcode)
	g(c.recording, float64(m.Recordings))
	k := m.Kernel
	if k.Mode == "" {
		k.Mode = "off"
	}
	for _, mode := range []string{"off", "on", "fallback"} {
		v := 0.0
		if mode == k.Mode {
			v = 1
		}
		g(c.kernMode, v, mode)
	}
	g(c.kernStreams, float64(k.Offloaded))
	n(c.kernPackets, k.Packets)
	n(c.kernBytes, k.Bytes)
	n(c.kernOffloads, k.Offloads)
	n(c.kernFailures, k.Failures)
	srtpOn := 0.0
	if k.SRTP == "on" {
		srtpOn = 1
	}
	g(c.kernSRTP, srtpOn)
	g(c.kernSRTPStreams, float64(k.SRTPOffloaded))
	n(c.kernSRTPBack, k.SRTPTakenBack)
	n(c.kernSRTPRuns, k.SRTPRuns)
	ch <- prometheus.MustNewConstMetric(c.kernSRTPSeconds, prometheus.CounterValue, float64(k.SRTPRunNs)/1e9)
	for _, p := range m.Pools {
		g(c.poolCap, float64(p.Capacity), p.Name)
		g(c.poolUse, float64(p.InUse), p.Name)
	}
}

// latencyHistogram exposes the power-of-two microsecond buckets of the
// transcoding processing time as a Prometheus histogram in seconds (the
// last bucket, open-ended, is +Inf).
func latencyHistogram(d *prometheus.Desc, st *rtpengine.TranscodeStats) prometheus.Metric {
	buckets := make(map[float64]uint64, len(st.Latency)-1)
	var count uint64
	for i, n := range st.Latency {
		count += n
		if i < len(st.Latency)-1 {
			buckets[float64(uint64(1)<<i)/1e6] = count
		}
	}
	return prometheus.MustNewConstHistogram(d, count, st.LatencySum.Seconds(), buckets)
}
