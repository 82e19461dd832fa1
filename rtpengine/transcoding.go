package rtpengine

import (
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/rtpengine/transcode"
	"github.com/pion/sdp/v3"
)

// TranscodeConfig configures transcoding. Zero values mean the defaults.
//
// Transcoding is planned only when necessary: when the codecs restricted
// by Flags.Codecs (policy's realm/trunk `codecs`) leave no codec of the
// offer, the other side is offered the allowed codecs this engine can
// transcode to (in policy order) and the engine converts between the
// offerer's first codec and the one the answer chooses.
type TranscodeConfig struct {
	// Disabled turns transcoding off: a codec restriction that leaves
	// nothing fails the offer (ErrNoCodec). Default false.
	Disabled bool
	// Workers, when above 0, runs the pipelines on a pool of that many
	// goroutines (each stream pinned to one, behind a bounded queue);
	// WorkersInline (-1) runs each pipeline on the code that read its
	// packet. Default 0: inline with the goroutine relay (one reader
	// goroutine per socket, so a transcoded stream delays only itself;
	// measured better than a pool there, docs/benchmarks.md), a pool of
	// 8×runtime.GOMAXPROCS(0) workers with the epoll relay (whose few
	// threads serve every socket and must never run codec work; a worker
	// in a cgo codec call can lose its processor, so more workers than
	// processors keep the processors busy, and the fewer streams a
	// worker carries, the fewer wait when its thread is preempted:
	// measured, docs/benchmarks.md).
	Workers int
	// QueueLen bounds each worker's queue of packets; a packet arriving
	// at a full queue is dropped and counted. Default 1024.
	QueueLen int
	// MaxSessions caps the calls transcoded at once (an offer beyond it
	// fails with ErrNoCodec). Default 0: no cap.
	MaxSessions int
	// OpusComplexity, OpusBitrate and OpusFEC configure the Opus
	// encoders (defaults: transcode.DefaultOpusComplexity, or
	// transcode.DefaultOpusComplexityVoIP with OpusVoIP or OpusFEC;
	// transcode.DefaultOpusBitrate; off).
	OpusComplexity int
	OpusBitrate    int
	OpusFEC        bool
	// OpusVoIP runs the Opus encoders as libopus application VoIP
	// (transcode.Config.OpusVoIP). Default false: restricted low delay.
	OpusVoIP bool
	// Depth is the reorder buffer depth in packets (default transcode.DefaultDepth).
	Depth int
	// WorkerNice, when above 0, runs each pool worker on its own OS
	// thread that much lower in priority (nice, Linux), so that the
	// kernel runs the relay threads, which feed the workers and forward
	// plain streams, before codec work. Default 0: off (docs/benchmarks.md,
	// "Transcoding", for what it did and did not change).
	WorkerNice int
}

const (
	defaultXcodeQueue = 1024
	// srInterval is how often a transcoded stream sends an RTCP sender
	// report; the first goes out srFirst after the stream starts.
	srInterval = 5 * time.Second
	srFirst    = time.Second
)

// WorkersInline as TranscodeConfig.Workers transcodes on the relay's
// reading path.
const WorkersInline = -1

func (c TranscodeConfig) withDefaults(relay RelayMode) (TranscodeConfig, error) {
	if c.Workers == 0 {
		c.Workers = WorkersInline
		if relay == RelayEpoll {
			c.Workers = 8 * runtime.GOMAXPROCS(0)
		}
	}
	if c.QueueLen == 0 {
		c.QueueLen = defaultXcodeQueue
	}
	if c.Workers < WorkersInline || c.QueueLen < 0 || c.MaxSessions < 0 || c.Depth < 0 || c.Depth > 8 || c.WorkerNice < 0 || c.WorkerNice > 19 {
		return c, fmt.Errorf("%w: transcode: negative workers, queue or sessions, depth above 8, or worker nice outside 0-19", ErrBadConfig)
	}
	if c.OpusComplexity < -1 || c.OpusComplexity > 10 || (c.OpusBitrate != 0 && (c.OpusBitrate < 6000 || c.OpusBitrate > 510000)) {
		return c, fmt.Errorf("%w: transcode: opus complexity -1..10 and bitrate 6000..510000", ErrBadConfig)
	}
	return c, nil
}

// TranscodeStats counts the engine's transcoding.
type TranscodeStats struct {
	// Sessions is the number of streams transcoded now (both directions
	// of a stream count once); Started counts those set up since the
	// engine started (a re-answer that keeps transcoding counts once).
	Sessions int
	Started  uint64
	// Queued counts packets handed to the workers, Dropped those refused
	// at a full queue.
	Queued, Dropped uint64
	// MaxQueueDelay is the longest a packet waited in a queue before its
	// worker took it (since the engine started).
	MaxQueueDelay time.Duration
	// QueueDelay counts packets by their wait: QueueDelay[i] those that
	// waited less than 2^i µs (the last bucket: the rest).
	QueueDelay [queueBuckets]uint64
	// Overruns counts packets that waited longer than a 20 ms frame.
	Overruns uint64
	// Latency counts received packets by the engine's own processing
	// time, from the packet's receive (its kernel timestamp with the
	// epoll relay on Linux, the return of the read otherwise) to the end
	// of its transcoding, the transcoded packet sent: Latency[i] those
	// under 2^i µs (the last bucket: the rest). It covers the socket
	// buffer, the worker queue and the codec work.
	Latency [queueBuckets]uint64
	// LatencySum is the sum of those times; MaxLatency the longest.
	LatencySum, MaxLatency time.Duration
	// FrameOverruns counts packets whose processing time exceeded one
	// 20 ms frame: the engine's own frame overruns.
	FrameOverruns uint64
}

// LatencyQuantile returns the upper bound of the Latency bucket that
// holds quantile q (0 with no packets).
func (s *TranscodeStats) LatencyQuantile(q float64) time.Duration {
	return bucketQuantile(s.Latency[:], q)
}

// bucketQuantile returns the upper bound, 2^i µs, of the bucket i of a
// power-of-two histogram that holds quantile q (0 when it is empty).
func bucketQuantile(h []uint64, q float64) time.Duration {
	var total, acc uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	for i, n := range h {
		acc += n
		if float64(acc) >= q*float64(total) {
			return time.Duration(1<<i) * time.Microsecond
		}
	}
	return time.Duration(1<<(len(h)-1)) * time.Microsecond
}

// queueBuckets is the size of the queue delay histogram (up to 2^20 µs).
const queueBuckets = 22

// overrun is the wait that counts as an overrun: one 20 ms frame.
const overrun = 20 * time.Millisecond

// xpool is the transcoding worker pool: one bounded queue per worker.
type xpool struct {
	workers []chan xjob
	next    atomic.Uint32
	bufs    sync.Pool
	live    atomic.Int64  // xstreams installed (two per transcoded stream)
	started atomic.Uint64 // transcoded streams set up since the engine started
	queued  atomic.Uint64
	dropped atomic.Uint64
	maxWait atomic.Int64
	waits   [queueBuckets]atomic.Uint64
	overrun atomic.Uint64
	// processing time, receive to transcoded send (TranscodeStats.Latency)
	lat      [queueBuckets]atomic.Uint64
	latSum   atomic.Int64
	latMax   atomic.Int64
	frameOvr atomic.Uint64
}

// xjob is one packet for a worker.
type xjob struct {
	x    *xstream
	buf  *[readBufSize]byte
	n    int
	rtp  bool
	when int64 // monoNow() at hand-off
	rx   int64 // receive time: the kernel's with the epoll relay, else the read's
}

func (e *Engine) startTranscoders() {
	tc := e.cfg.Transcode
	e.xp = &xpool{}
	e.xp.bufs.New = func() any { return new([readBufSize]byte) }
	if tc.Workers == WorkersInline {
		return
	}
	e.xp.workers = make([]chan xjob, tc.Workers)
	for i := range e.xp.workers {
		ch := make(chan xjob, tc.QueueLen)
		e.xp.workers[i] = ch
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if tc.WorkerNice > 0 {
				// The thread keeps its lower priority: the goroutine
				// ends locked, so the runtime discards the thread
				// rather than reuse it for other goroutines.
				runtime.LockOSThread()
				if err := niceThread(tc.WorkerNice); err != nil {
					e.log.Warn("transcoding worker keeps its priority", "err", err)
				}
			}
			e.xworker(ch)
		}()
	}
}

// xworker runs pipelines until the engine stops.
func (e *Engine) xworker(ch chan xjob) {
	for {
		select {
		case <-e.stop:
			return
		case j := <-ch:
			e.xrun(j, j.buf[:j.n])
			e.xp.bufs.Put(j.buf)
			// Yield after each packet of a backlog: a worker with
			// one would otherwise keep its processor for the
			// runtime's 10 ms time slice while the relay thread and
			// the other workers' packets wait (measured: goroutines'
			// runnable wait p50 0.66 ms without, 0.06 ms with;
			// docs/benchmarks.md). With an empty queue the next
			// receive parks the worker anyway.
			if len(ch) > 0 {
				runtime.Gosched()
			}
		}
	}
}

func (e *Engine) xrun(j xjob, pkt []byte) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("transcoder panicked", "panic", v, "pipeline", j.x.pipe.String())
		}
	}()
	now := monoNow()
	w := now - j.when
	if w > e.xp.maxWait.Load() {
		e.xp.maxWait.Store(w)
	}
	if w > int64(overrun) {
		e.xp.overrun.Add(1)
	}
	e.xp.waits[min(bits.Len64(uint64(w/1000)), queueBuckets-1)].Add(1)
	x := j.x
	if j.rtp {
		_ = x.pipe.HandleRTP(pkt)
		e.xp.processed(monoNow() - j.rx)
	}
	if now-x.lastSR >= int64(srInterval) && x.pipe.Stats().PacketsOut > 0 {
		x.lastSR = now
		x.sendRTCP(x.pipe.AppendSenderReport(x.sr[:0], time.Now()))
	}
}

// processed records one packet's processing time d (ns).
func (xp *xpool) processed(d int64) {
	d = max(d, 0)
	xp.lat[min(bits.Len64(uint64(d/1000)), queueBuckets-1)].Add(1)
	xp.latSum.Add(d)
	if d > xp.latMax.Load() {
		xp.latMax.Store(d)
	}
	if d > int64(overrun) {
		xp.frameOvr.Add(1)
	}
}

// xstream is one direction of a transcoded stream: packets received on
// one endpoint go through pipe and leave through out.
type xstream struct {
	e      *Engine
	pipe   *transcode.Pipeline
	out    *endpoint
	worker chan xjob
	pool   *xpool
	lastSR int64
	sr     [64]byte
	cb     cryptoBufs
}

// submit hands a packet received at rx (monoNow's clock) to the stream's
// worker; it never blocks.
// RTCP from the peer is consumed here: each leg gets reports generated
// for its own stream.
func (x *xstream) submit(rtp bool, b []byte, rx int64) {
	if !rtp {
		return
	}
	now := monoNow()
	if x.worker == nil { // inline
		x.e.xrun(xjob{x: x, n: len(b), rtp: true, when: now, rx: rx}, b)
		return
	}
	buf := x.pool.bufs.Get().(*[readBufSize]byte)
	n := copy(buf[:], b)
	select {
	case x.worker <- xjob{x: x, buf: buf, n: n, rtp: true, when: now, rx: rx}:
		x.pool.queued.Add(1)
	default:
		x.pool.bufs.Put(buf)
		x.pool.dropped.Add(1)
		x.out.c.dropped.Add(1)
	}
}

// send is the pipeline's Output: protect for a secure leg and send.
func (x *xstream) send(pkt []byte) {
	p := x.out
	dst := p.rtpDest()
	if !usable(dst) || !p.hasConsent(monoNow()) {
		p.c.dropped.Add(1)
		return
	}
	if pkt = x.protect(pkt); pkt == nil {
		return
	}
	if _, err := p.pp.rtp.write(pkt, dst); err != nil {
		p.c.dropped.Add(1)
		return
	}
	p.c.packetsOut.Add(1)
	p.c.bytesOut.Add(uint64(len(pkt)))
}

func (x *xstream) sendRTCP(pkt []byte) {
	conn, dst := x.out.rtcpDest()
	if !usable(dst) {
		return
	}
	if pkt = x.protect(pkt); pkt == nil {
		return
	}
	if _, err := conn.write(pkt, dst); err == nil {
		x.out.c.packetsOut.Add(1)
		x.out.c.bytesOut.Add(uint64(len(pkt)))
	}
}

func (x *xstream) protect(pkt []byte) []byte {
	p := x.out
	tx := p.tx.Load()
	if tx == nil {
		if p.secure.Load() {
			p.c.dropped.Add(1)
			return nil
		}
		return pkt
	}
	out, ok := tx.encrypt(x.cb.out[:0], pkt)
	if !ok {
		p.c.srtpErrors.Add(1)
		p.c.dropped.Add(1)
		return nil
	}
	return out
}

// setXcode installs (or, with nil, removes) the transcoder of packets
// received on ep, keeping the session count.
func (e *Engine) setXcode(ep *endpoint, x *xstream) {
	old := ep.xcode.Swap(x)
	switch {
	case old == nil && x != nil:
		e.xp.live.Add(1)
	case old != nil && x == nil:
		e.xp.live.Add(-1)
	}
}

// TranscodeStats returns the engine's transcoding counters.
func (e *Engine) TranscodeStats() TranscodeStats {
	st := TranscodeStats{
		Sessions: int(e.xp.live.Load() / 2), Started: e.xp.started.Load(), Queued: e.xp.queued.Load(), Dropped: e.xp.dropped.Load(),
		MaxQueueDelay: time.Duration(e.xp.maxWait.Load()), Overruns: e.xp.overrun.Load(),
	}
	for i := range st.QueueDelay {
		st.QueueDelay[i] = e.xp.waits[i].Load()
		st.Latency[i] = e.xp.lat[i].Load()
	}
	st.LatencySum, st.MaxLatency = time.Duration(e.xp.latSum.Load()), time.Duration(e.xp.latMax.Load())
	st.FrameOverruns = e.xp.frameOvr.Load()
	return st
}

// format is one payload format of an m= line with its attributes.
type format struct {
	pt     string
	name   string // lower case
	clock  uint32
	rtpmap string   // value of a=rtpmap ("" for a static type without one)
	fmtp   []string // values of a=fmtp
}

// xoffer is what an offerer's m= line says, kept for a transcoded answer.
type xoffer struct {
	formats []format
	codec   format // the offerer's first codec we can transcode
	event   format // its telephone-event (pt "" if none)
	ptime   int    // a=ptime, ms (0 if none)
	// declare: the offerer is a WebRTC (ICE or DTLS) endpoint; its answer
	// names the SSRC sbcd's transcoder sends from (see declareSSRC).
	declare bool
}

func isAux(name string) bool { return name == transcode.TelephoneEvent || name == "cn" }

// mediaFormats lists the formats of an m= line in order.
func mediaFormats(md *sdp.MediaDescription, st *sdpStream) []format {
	out := make([]format, 0, len(st.order))
	for _, f := range st.order {
		out = append(out, format{pt: f, name: st.names[f], clock: st.clock[ptOf(f)]})
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		pt, _, _ := strings.Cut(a.Value, " ")
		for i := range out {
			if out[i].pt == pt {
				if a.Key == "rtpmap" {
					out[i].rtpmap = a.Value
				} else {
					out[i].fmtp = append(out[i].fmtp, a.Value)
				}
			}
		}
	}
	return out
}

// planTranscode decides whether an offered m= line needs transcoding
// under the codec restriction keep, and if so returns what the offerer
// said and the formats to offer the other side instead.
func (e *Engine) planTranscode(md *sdp.MediaDescription, st *sdpStream, keep []string) (*xoffer, []format) {
	if e.cfg.Transcode.Disabled || len(keep) == 0 || st.media != "audio" || st.port == 0 {
		return nil, nil
	}
	fs := mediaFormats(md, st)
	xo := &xoffer{formats: fs, ptime: st.ptime, declare: webrtcMedia(md)}
	for _, f := range fs {
		if isAux(f.name) {
			continue
		}
		if slices.ContainsFunc(keep, func(k string) bool { return strings.EqualFold(k, f.name) }) {
			return nil, nil // a codec both sides take: no transcoding
		}
		if xo.codec.pt == "" && transcode.Supported(f.name) && (f.name != transcode.Opus || f.clock == 48000) {
			xo.codec = f
		}
	}
	if xo.codec.pt == "" {
		return nil, nil
	}
	for _, f := range fs {
		if f.name == transcode.TelephoneEvent && xo.event.pt == "" {
			xo.event = f
		}
	}
	var out []format
	var evClock uint32
	for _, k := range keep {
		k = strings.ToLower(k)
		switch k {
		case transcode.PCMU:
			out = append(out, format{pt: "0", name: k, clock: 8000, rtpmap: "0 PCMU/8000"})
		case transcode.PCMA:
			out = append(out, format{pt: "8", name: k, clock: 8000, rtpmap: "8 PCMA/8000"})
		case transcode.G722:
			out = append(out, format{pt: "9", name: k, clock: 8000, rtpmap: "9 G722/8000"})
		case transcode.Opus:
			out = append(out, format{pt: "111", name: k, clock: 48000, rtpmap: "111 opus/48000/2",
				fmtp: []string{"111 minptime=10;useinbandfec=1"}})
		default:
			continue
		}
		if evClock == 0 {
			evClock = out[len(out)-1].clock
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if xo.event.pt != "" && slices.ContainsFunc(keep, func(k string) bool { return strings.EqualFold(k, transcode.TelephoneEvent) }) {
		c := strconv.Itoa(int(evClock))
		out = append(out, format{pt: "101", name: transcode.TelephoneEvent, clock: evClock,
			rtpmap: "101 telephone-event/" + c, fmtp: []string{"101 0-16"}})
	}
	return xo, out
}

// setFormats replaces an m= line's formats and their rtpmap/fmtp lines.
func setFormats(md *sdp.MediaDescription, fs []format) {
	md.MediaName.Formats = md.MediaName.Formats[:0]
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb", "ptime", "maxptime":
			return true
		}
		return false
	})
	for _, f := range fs {
		md.MediaName.Formats = append(md.MediaName.Formats, f.pt)
		if f.rtpmap != "" {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", f.rtpmap))
		}
		for _, v := range f.fmtp {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("fmtp", v))
		}
	}
}

// pipePtime picks a leg's outgoing packet duration from its a=ptime.
func pipePtime(ms int, codec string) time.Duration {
	switch ms {
	case 10, 20, 40:
		return time.Duration(ms) * time.Millisecond
	case 30:
		if codec != transcode.Opus {
			return 30 * time.Millisecond
		}
	}
	return transcode.DefaultPtime
}

func ptByte(f format) uint8 {
	if f.pt == "" {
		return 0
	}
	return uint8(ptOf(f.pt))
}

// answerTranscode installs the two pipelines of a transcoded stream once
// the answer (the m= line md of the answerer behind eb) is known, and
// rewrites md into the answer for the offerer behind ea.
func (e *Engine) answerTranscode(c *call, a, b *monologue, ea, eb *endpoint, xo *xoffer, md *sdp.MediaDescription, st *sdpStream) error {
	fs := mediaFormats(md, st)
	var bc, bev format
	for _, f := range fs {
		switch {
		case f.name == transcode.TelephoneEvent:
			if bev.pt == "" {
				bev = f
			}
		case bc.pt == "" && transcode.Supported(f.name):
			bc = f
		}
	}
	if bc.pt == "" {
		return fmt.Errorf("%w: the answer chose none of the offered transcodable codecs %v", ErrNoCodec, st.order)
	}
	if max := e.cfg.Transcode.MaxSessions; max > 0 && ea.xcode.Load() == nil && int(e.xp.live.Load()/2) >= max {
		return fmt.Errorf("%w: transcoding capacity (%d sessions) reached", ErrNoCodec, max)
	}
	aEv, bEv := ptByte(xo.event), ptByte(bev)
	withDTMF := a.dtmf != "" && b.dtmf != ""
	switch {
	case !withDTMF && (aEv == 0 || bEv == 0):
		aEv, bEv = 0, 0 // events pass only between two telephone-event sides
	case withDTMF && a.dtmf != DTMFRFC4733:
		aEv = 0
	}
	if withDTMF && b.dtmf != DTMFRFC4733 {
		bEv = 0
	}
	tc := &e.cfg.Transcode
	// Both directions of a call run on one worker (the pool's workers
	// take calls in turn): a worker gets as many expensive directions
	// (towards Opus) as cheap ones, and a call's two codecs share a cache.
	var worker chan xjob
	if tc.Workers > 0 {
		worker = e.xp.workers[int(e.xp.next.Add(1))%len(e.xp.workers)]
	}
	mk := func(in, out format, inEv, outEv uint8, ptime int, to *endpoint, from, dst *monologue) (*xstream, error) {
		x := &xstream{e: e, out: to, pool: e.xp, lastSR: monoNow() - int64(srInterval-srFirst)}
		var dc *transcode.DTMF
		if withDTMF {
			dc = &transcode.DTMF{Detect: from.dtmf == DTMFInband, Out: pipeDTMFOut(dst.dtmf)}
			callID, tag := c.id, from.tag
			dc.OnDigit = func(key byte, dur time.Duration, method string) {
				e.reportDigit(callID, tag, key, dur, method)
			}
		}
		p, err := transcode.New(transcode.Config{
			In:  transcode.Codec{Name: in.name, PT: ptByte(in)},
			Out: transcode.Codec{Name: out.name, PT: ptByte(out)}, InEventPT: inEv, OutEventPT: outEv,
			Ptime: pipePtime(ptime, out.name), Depth: tc.Depth,
			OpusComplexity: tc.OpusComplexity, OpusBitrate: tc.OpusBitrate, OpusFEC: tc.OpusFEC,
			OpusVoIP: tc.OpusVoIP, DTMF: dc, Output: x.send,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCodec, err)
		}
		x.pipe = p
		x.worker = worker
		return x, nil
	}
	ab, err := mk(xo.codec, bc, aEv, bEv, st.ptime, eb, a, b)
	if err != nil {
		return err
	}
	ba, err := mk(bc, xo.codec, bEv, aEv, xo.ptime, ea, b, a)
	if err != nil {
		return err
	}
	if ea.xcode.Load() == nil {
		e.xp.started.Add(1)
	}
	e.setXcode(ea, ab)
	e.setXcode(eb, ba)
	answer := []format{xo.codec}
	if aEv != 0 {
		answer = append(answer, xo.event)
	}
	setFormats(md, answer)
	if xo.ptime != 0 {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(xo.ptime)))
	}
	declareSSRC(md, ba.pipe.SSRC(), xo.declare)
	e.log.Debug("transcoding", "a_to_b", ab.pipe.String(), "b_to_a", ba.pipe.String())
	return nil
}

// pipeDTMFOut maps a receiving leg's DTMF mode to its pipeline's output.
func pipeDTMFOut(mode string) transcode.DTMFOut {
	switch mode {
	case DTMFInband:
		return transcode.DTMFTones
	case DTMFInfo:
		return transcode.DTMFDrop
	}
	return transcode.DTMFEvents // tones when that side took no telephone-event
}

// webrtcMedia reports whether an offered m= line comes from a WebRTC
// endpoint: ICE credentials, a DTLS fingerprint or a DTLS transport.
func webrtcMedia(md *sdp.MediaDescription) bool {
	for _, k := range []string{"ice-ufrag", "fingerprint"} {
		if _, ok := md.Attribute(k); ok {
			return true
		}
	}
	return slices.Contains(md.MediaName.Protos, "TLS")
}

// declareSSRC removes the source attributes from a transcoded answer (the
// answerer's a=ssrc/msid lines describe a stream the offerer never
// receives) and, for a WebRTC offerer (declare), names the transcoder's
// own outgoing SSRC with a CNAME and an msid instead. A WebRTC offerer
// that demultiplexes its BUNDLE by SSRC, without the MID header extension
// (pion, for one), drops RTP from an SSRC its answer did not declare
// (RFC 8843 section 9.2).
func declareSSRC(md *sdp.MediaDescription, ssrc uint32, declare bool) {
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "ssrc", "ssrc-group", "msid":
			return true
		}
		return false
	})
	if !declare {
		return
	}
	id := strconv.FormatUint(uint64(ssrc), 10)
	name := fmt.Sprintf("openborder-%08x", ssrc)
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("msid", name+" audio-"+id),
		sdp.NewAttribute("ssrc", id+" cname:"+name),
		sdp.NewAttribute("ssrc", id+" msid:"+name+" audio-"+id))
}
