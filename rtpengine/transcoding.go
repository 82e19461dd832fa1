package rtpengine

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/rtpengine/transcode"
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
