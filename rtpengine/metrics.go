package rtpengine

// Metrics is a snapshot of the whole engine for monitoring: what is
// allocated now and what has been relayed since start. It is computed on
// demand from per-endpoint counters; the packet path does no extra work.
type Metrics struct {
	// Calls and Streams are the calls and anchored streams (endpoints) now.
	Calls, Streams int
	Pools          []PoolMetrics
	// Traffic sums every endpoint, released or live.
	Traffic Traffic
	// Transcode counts transcoding; Recordings is the calls being
	// recorded now.
	Transcode  TranscodeStats
	Recordings int
	// MeanMOS is the mean E-model MOS of the live streams that have
	// received RTP (MOSStreams of them); 0 when there are none.
	MeanMOS    float64
	MOSStreams int
	// Kernel describes in-kernel forwarding.
	Kernel KernelMetrics
}

// PoolMetrics describes one port pool: Capacity and InUse count port
// pairs (one per anchored stream).
type PoolMetrics struct {
	Name            string
	Capacity, InUse int
}

// Traffic counts media. "In" is what peers sent to sbcd, "out" what sbcd
// sent to them. Dropped includes SRTPErrors.
type Traffic struct {
	PacketsIn, PacketsOut, BytesIn, BytesOut uint64
	Lost, Dropped, SRTPErrors                uint64
	STUN, DTLSPackets                        uint64
	DTLSHandshakes, DTLSFailures             uint64
}

// Add adds o to t.
func (t *Traffic) Add(o Traffic) {
	t.PacketsIn += o.PacketsIn
	t.PacketsOut += o.PacketsOut
	t.BytesIn += o.BytesIn
	t.BytesOut += o.BytesOut
	t.Lost += o.Lost
	t.Dropped += o.Dropped
	t.SRTPErrors += o.SRTPErrors
	t.STUN += o.STUN
	t.DTLSPackets += o.DTLSPackets
	t.DTLSHandshakes += o.DTLSHandshakes
	t.DTLSFailures += o.DTLSFailures
}

func (t *Traffic) add(c *counters) {
	t.PacketsIn += c.packetsIn.Load()
	t.PacketsOut += c.packetsOut.Load()
	t.BytesIn += c.bytesIn.Load()
	t.BytesOut += c.bytesOut.Load()
	t.Lost += c.lost.Load()
	t.Dropped += c.dropped.Load()
	t.SRTPErrors += c.srtpErrors.Load()
	t.STUN += c.stun.Load()
	t.DTLSPackets += c.dtls.Load()
	t.DTLSHandshakes += c.dtlsDone.Load()
	t.DTLSFailures += c.dtlsFailures.Load()
}

// Metrics returns a snapshot of the engine. It takes each call's lock in
// turn (never the packet path's), so it costs O(calls) per scrape.
func (e *Engine) Metrics() Metrics {
	var m Metrics
	e.mu.Lock()
	calls := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	m.Calls = len(calls)
	var live Traffic
	var mosSum float64
	for _, c := range calls {
		c.mu.Lock()
		if c.rec != nil && c.rec.r != nil {
			m.Recordings++
		}
		if !c.deleted {
			for _, mono := range c.order {
				for _, ep := range mono.eps {
					if ep != nil {
						m.Streams++
						live.add(&ep.c)
						if r, ok := streamR(ep, ep.snapshot()); ok {
							mosSum += mosFromR(r)
							m.MOSStreams++
						}
					}
				}
			}
		}
		c.mu.Unlock()
	}
	e.relMu.Lock()
	m.Traffic = e.released
	e.relMu.Unlock()
	m.Traffic.Add(live)
	if m.MOSStreams > 0 {
		m.MeanMOS = mosSum / float64(m.MOSStreams)
	}
	// An endpoint released while this snapshot was taken may be counted
	// twice or not at all; counters never go backwards for that.
	e.relMu.Lock()
	m.Traffic.atLeast(&e.reported)
	e.reported = m.Traffic
	e.relMu.Unlock()
	m.Transcode = e.TranscodeStats()
	m.Kernel = e.KernelMetrics()
	for _, ic := range e.cfg.Interfaces {
		p := e.pools[ic.Name]
		m.Pools = append(m.Pools, PoolMetrics{Name: ic.Name, Capacity: p.capacity(), InUse: p.inUse()})
	}
	return m
}

// atLeast raises each field of t to at least that of o.
func (t *Traffic) atLeast(o *Traffic) {
	for _, p := range [...][2]*uint64{
		{&t.PacketsIn, &o.PacketsIn}, {&t.PacketsOut, &o.PacketsOut}, {&t.BytesIn, &o.BytesIn},
		{&t.BytesOut, &o.BytesOut}, {&t.Lost, &o.Lost}, {&t.Dropped, &o.Dropped},
		{&t.SRTPErrors, &o.SRTPErrors}, {&t.STUN, &o.STUN}, {&t.DTLSPackets, &o.DTLSPackets},
		{&t.DTLSHandshakes, &o.DTLSHandshakes}, {&t.DTLSFailures, &o.DTLSFailures},
	} {
		*p[0] = max(*p[0], *p[1])
	}
}
