//go:build linux && cgo

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/openborder/openborder/rtpengine"
)

// engineRelay is the built-in engine, in this process.
type engineRelay struct {
	o options
	e *rtpengine.Engine
	// gc holds the Go GC cycle count at the first and the last cpu()
	// call: the cycles that ran in the send window.
	gc      [2]uint64
	gcCalls int
}

func newEngineRelay(o options) (*engineRelay, error) {
	rtpengine.SpareProc() // as sbcd does (GOMAXPROCS in the environment wins)
	e, err := rtpengine.New(rtpengine.Config{
		Interfaces: []rtpengine.InterfaceConfig{
			{Name: "access", Addr: aIP, PortMin: 30000, PortMax: 30000 + 4*o.calls + 20},
			{Name: "core", Addr: bIP, PortMin: 40000, PortMax: 40000 + 4*o.calls + 20},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Relay:  o.relay,
		Transcode: rtpengine.TranscodeConfig{OpusComplexity: o.complexity, OpusBitrate: o.bitrate, OpusVoIP: o.voip,
			Workers: o.workers, QueueLen: 4096, WorkerNice: o.nice},
	})
	if err != nil {
		return nil, err
	}
	return &engineRelay{o: o, e: e}, nil
}

func (r *engineRelay) setup(ctx context.Context, i, a, b int) (int, int, []byte, error) {
	id := "load-" + strconv.Itoa(i)
	offer, err := r.e.Offer(ctx, rtpengine.OfferRequest{CallID: id, FromTag: "A",
		SDP:   sdp(a, aIP, "111", "a=rtpmap:111 opus/48000/2"),
		Flags: rtpengine.Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("offer %d: %w", i, err)
	}
	answer, err := r.e.Answer(ctx, rtpengine.AnswerRequest{CallID: id, FromTag: "A", ToTag: "B",
		SDP: sdp(b, bIP, "0")})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("answer %d: %w", i, err)
	}
	return mport(answer), mport(offer), answer, nil
}

func (r *engineRelay) cpu() (time.Duration, error) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		r.gc[min(r.gcCalls, 1)] = s[0].Value.Uint64()
		r.gcCalls++
	}
	return cpu(), nil
}

func (r *engineRelay) report() string {
	st := r.e.TranscodeStats()
	return fmt.Sprintf("relay=%s gomaxprocs=%d workers=%d queue_dropped=%d queue_wait_p50<%s p99<%s max=%v queue_overruns=%d "+
		"engine_processing_p50<%v p99<%v max=%v engine_frame_overruns=%d go_runnable_wait_p50<%v p99<%v p999<%v go_gc_cycles_in_window=%d",
		orDefault(string(r.o.relay)), runtime.GOMAXPROCS(0), r.o.workers, st.Dropped,
		bucketQuantile(st.QueueDelay[:], 0.5), bucketQuantile(st.QueueDelay[:], 0.99),
		st.MaxQueueDelay.Round(10*time.Microsecond), st.Overruns,
		st.LatencyQuantile(0.5), st.LatencyQuantile(0.99), st.MaxLatency.Round(10*time.Microsecond), st.FrameOverruns,
		schedWait(0.5), schedWait(0.99), schedWait(0.999), r.gc[1]-r.gc[0])
}

// schedWait is the q-quantile (bucket upper bound) of how long the
// process's goroutines were runnable before they ran (Go runtime metric
// /sched/latencies:seconds, since the process started): a transcoding
// worker woken for a packet waits this long for a Go processor.
func schedWait(q float64) time.Duration {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s[0].Value.Float64Histogram()
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum > rank {
			return time.Duration(h.Buckets[i+1] * float64(time.Second)).Round(time.Microsecond)
		}
	}
	return time.Duration(h.Buckets[len(h.Buckets)-1] * float64(time.Second))
}

func (r *engineRelay) dropped() uint64 { return r.e.TranscodeStats().Dropped }

func (r *engineRelay) teardown(_ context.Context, i int) {
	_, _ = r.e.Delete("load-"+strconv.Itoa(i), "")
}

func (r *engineRelay) close() { r.e.Close() }

// bucketQuantile returns the upper bound (2^i µs) of the bucket of a
// power-of-two histogram holding quantile q.
func bucketQuantile(h []uint64, q float64) time.Duration {
	var total, acc uint64
	for _, n := range h {
		total += n
	}
	for i, n := range h {
		acc += n
		if total > 0 && float64(acc) >= q*float64(total) {
			return time.Duration(1<<i) * time.Microsecond
		}
	}
	return 0
}
