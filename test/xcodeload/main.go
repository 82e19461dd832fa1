//go:build linux && cgo

// Command xcodeload measures how many Opus <-> PCMU transcoded calls the
// media engine sustains: it runs the engine in-process on loopback with
// real sockets, sets up -calls calls whose A leg offers only Opus and
// whose B leg takes only PCMU, and for -duration sends 20 ms packets both
// ways (pre-encoded Opus from A, PCMU from B: the load generator does no
// codec work). It reports per direction the packets expected and received
// (loss), the engine's transcoding queue drops and the longest a frame
// waited for its worker (with -workers), the latency from sending a frame
// to receiving its transcoded counterpart (p50/p99/max; above 20 ms, one
// frame, counts as an overrun), and the process CPU (engine and load
// generator together).
//
//	go run ./test/xcodeload -calls 250 -duration 20s
//
// Only 127.50.0.1 and 127.51.0.1 are used (loopback).
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/rtpengine"
	"github.com/openborder/openborder/test/audiocheck"
)

type leg struct {
	conn  *net.UDPConn
	sbc   netip.AddrPort
	got   atomic.Uint64
	wrong atomic.Uint64
}

// latency is a histogram of send-to-receive times: bucket i counts those
// below 2^i µs.
type latency [24]atomic.Uint64

func (h *latency) add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h[min(bits.Len64(uint64(us)), len(h)-1)].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *latency) quantile(q float64) time.Duration {
	var total, acc uint64
	for i := range h {
		total += h[i].Load()
	}
	for i := range h {
		acc += h[i].Load()
		if total > 0 && float64(acc) >= q*float64(total) {
			return time.Duration(1<<i) * time.Microsecond
		}
	}
	return 0
}

func main() {
	calls := flag.Int("calls", 250, "concurrent transcoded calls")
	duration := flag.Duration("duration", 20*time.Second, "send window")
	complexity := flag.Int("complexity", 0, "Opus encoder complexity (0: engine default)")
	workers := flag.Int("workers", 0, "transcoding worker goroutines (0: transcode on the socket readers)")
	flag.Parse()
	if err := run(*calls, *duration, *complexity, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "xcodeload:", err)
		os.Exit(1)
	}
}

func sdp(port uint16, addr string, fmts string, attrs ...string) []byte {
	l := []string{"v=0", "o=- 1 1 IN IP4 " + addr, "s=-", "c=IN IP4 " + addr, "t=0 0",
		"m=audio " + strconv.Itoa(int(port)) + " RTP/AVP " + fmts}
	l = append(l, attrs...)
	l = append(l, "a=rtcp-mux", "a=sendrecv")
	return []byte(strings.Join(l, "\r\n") + "\r\n")
}

func mport(b []byte) int {
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "m=") {
			p, _ := strconv.Atoi(strings.Fields(l)[1])
			return p
		}
	}
	return 0
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(calls int, duration time.Duration, complexity, workers int) error {
	aIP, bIP := netip.MustParseAddr("127.50.0.1"), netip.MustParseAddr("127.51.0.1")
	e, err := rtpengine.New(rtpengine.Config{
		Interfaces: []rtpengine.InterfaceConfig{
			{Name: "access", Addr: aIP, PortMin: 30000, PortMax: 30000 + 4*calls + 20},
			{Name: "core", Addr: bIP, PortMin: 40000, PortMax: 40000 + 4*calls + 20},
		},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Transcode: rtpengine.TranscodeConfig{OpusComplexity: complexity, Workers: workers, QueueLen: 4096},
	})
	if err != nil {
		return err
	}
	defer e.Close()
	ctx := context.Background()
	as, bs := make([]*leg, calls), make([]*leg, calls)
	for i := range calls {
		for _, x := range []struct {
			l  **leg
			ip netip.Addr
		}{{&as[i], aIP}, {&bs[i], bIP}} {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: x.ip.AsSlice()})
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetReadBuffer(1 << 20)
			*x.l = &leg{conn: c}
		}
		id := "load-" + strconv.Itoa(i)
		aPort := as[i].conn.LocalAddr().(*net.UDPAddr).Port
		bPort := bs[i].conn.LocalAddr().(*net.UDPAddr).Port
		offer, err := e.Offer(ctx, rtpengine.OfferRequest{CallID: id, FromTag: "A",
			SDP:   sdp(uint16(aPort), aIP.String(), "111", "a=rtpmap:111 opus/48000/2"),
			Flags: rtpengine.Flags{FromInterface: "access", ToInterface: "core", Codecs: []string{"PCMU"}}})
		if err != nil {
			return fmt.Errorf("offer %d: %w", i, err)
		}
		answer, err := e.Answer(ctx, rtpengine.AnswerRequest{CallID: id, FromTag: "A", ToTag: "B",
			SDP: sdp(uint16(bPort), bIP.String(), "0")})
		if err != nil {
			return fmt.Errorf("answer %d: %w", i, err)
		}
		as[i].sbc = netip.AddrPortFrom(aIP, uint16(mport(answer)))
		bs[i].sbc = netip.AddrPortFrom(bIP, uint16(mport(offer)))
	}
	defer func() {
		for i := range calls {
			_, _ = e.Delete("load-"+strconv.Itoa(i), "")
		}
	}()

	// One second of pre-encoded audio per side (50 frames), looped.
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		return err
	}
	var opusFrames, ulawFrames [50][]byte
	for f := range 50 {
		out := make([]byte, 1500)
		n, err := enc.Encode(audiocheck.Sine(48000, f*960, 960, 1000, 8000), out)
		if err != nil {
			return err
		}
		opusFrames[f] = out[:n]
		u := make([]byte, 160)
		codecs.UlawEncodeFrame(u, audiocheck.Sine(8000, f*160, 160, 600, 8000))
		ulawFrames[f] = u
	}

	ticks := int(duration / (20 * time.Millisecond))
	sent := make([]atomic.Int64, ticks)
	var lat latency
	var maxLat, overrun atomic.Int64
	var wg sync.WaitGroup
	recv := func(l *leg, pt byte, size int) {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := l.conn.Read(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[1]&0x7f >= 72 && buf[1]&0x7f <= 76 {
				continue // RTCP
			}
			if buf[1]&0x7f != pt || (size > 0 && n != size) {
				l.wrong.Add(1)
				continue
			}
			// One frame out per frame in, in order: the n-th packet
			// received is the transcoded n-th frame sent.
			if k := l.got.Add(1) - 1; k < uint64(len(sent)) {
				d := time.Duration(time.Now().UnixNano() - sent[k].Load())
				lat.add(d)
				if d > 20*time.Millisecond {
					overrun.Add(1)
				}
				if int64(d) > maxLat.Load() {
					maxLat.Store(int64(d))
				}
			}
		}
	}
	for i := range calls {
		wg.Add(2)
		go recv(as[i], 111, 0)
		go recv(bs[i], 0, 12+160)
	}

	pkt := make([]byte, 12+1500)
	c0, t0 := cpu(), time.Now()
	next := t0
	late := time.Duration(0)
	for k := range ticks {
		next = next.Add(20 * time.Millisecond)
		sent[k].Store(time.Now().UnixNano())
		for i := range calls {
			for side, l := range []*leg{as[i], bs[i]} {
				payload := opusFrames[k%50]
				pt, step := byte(111), uint32(960)
				if side == 1 {
					payload, pt, step = ulawFrames[k%50], 0, 160
				}
				pkt[0], pkt[1] = 0x80, pt
				binary.BigEndian.PutUint16(pkt[2:], uint16(k))
				binary.BigEndian.PutUint32(pkt[4:], uint32(k)*step)
				binary.BigEndian.PutUint32(pkt[8:], uint32(i*2+side+1))
				n := 12 + copy(pkt[12:], payload)
				if _, err := l.conn.WriteToUDPAddrPort(pkt[:n], l.sbc); err != nil {
					return err
				}
			}
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else if -d > late {
			late = -d
		}
	}
	time.Sleep(300 * time.Millisecond) // let the last frames arrive
	c1, wall := cpu(), time.Since(t0)
	var gotA, gotB, wrong uint64
	for i := range calls {
		gotA += as[i].got.Load()
		gotB += bs[i].got.Load()
		wrong += as[i].wrong.Load() + bs[i].wrong.Load()
		_ = as[i].conn.Close()
		_ = bs[i].conn.Close()
	}
	wg.Wait()
	st := e.TranscodeStats()
	want := uint64(calls * ticks)
	pct := func(q float64) string { // upper bound of the bucket holding quantile q
		var total, acc uint64
		for _, n := range st.QueueDelay {
			total += n
		}
		for i, n := range st.QueueDelay {
			acc += n
			if float64(acc) >= q*float64(total) {
				return (time.Duration(1<<i) * time.Microsecond).String()
			}
		}
		return "-"
	}
	fmt.Printf("calls=%d duration=%v frames_per_direction=%d opus_to_pcmu_received=%d pcmu_to_opus_received=%d loss=%d wrong=%d "+
		"latency_p50<%v p99<%v max=%v late_over_20ms=%d "+
		"queue_dropped=%d queue_wait_p50<%s p99<%s p999<%s max=%v queue_overruns=%d sender_max_late=%v process_cpu=%.1f%% cpu_per_call_frame=%.1fus\n",
		calls, duration, want, gotB, gotA, 2*want-gotA-gotB, wrong,
		lat.quantile(0.5), lat.quantile(0.99), time.Duration(maxLat.Load()).Round(10*time.Microsecond), overrun.Load(),
		st.Dropped, pct(0.5), pct(0.99), pct(0.999),
		st.MaxQueueDelay.Round(10*time.Microsecond), st.Overruns,
		late.Round(10*time.Microsecond), 100*float64(c1-c0)/float64(wall), float64((c1-c0).Microseconds())/float64(want))
	if gotA+gotB < 2*want || st.Dropped > 0 {
		return fmt.Errorf("loss or drops")
	}
	return nil
}
