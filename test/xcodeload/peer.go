//go:build linux && cgo

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/test/audiocheck"
)

type leg struct {
	conn  *net.UDPConn
	sbc   netip.AddrPort
	slot  time.Duration // offset of this call's packets in each 20 ms
	got   atomic.Uint64
	wrong atomic.Uint64
}

// slots spreads the calls' packets over each 20 ms, as real calls would
// be, in this many groups.
const slots = 10

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

// runPeer is the load generator: it opens two sockets per call, tells the
// engine their ports, learns sbcd's, sends for duration and reports.
func runPeer(calls int, duration time.Duration, in io.Reader, out io.Writer) error {
	as, bs := make([]*leg, calls), make([]*leg, calls)
	ports := make([]any, 0, 2*calls)
	format := "ports"
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
			ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
			format += " %d"
		}
	}
	fmt.Fprintf(out, format+"\n", ports...)
	rd := bufio.NewReader(in)
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	sbc, err := ints(line, "sbc", 2*calls)
	if err != nil {
		return err
	}
	for i := range calls {
		as[i].sbc = netip.AddrPortFrom(aIP, uint16(sbc[2*i]))
		bs[i].sbc = netip.AddrPortFrom(bIP, uint16(sbc[2*i+1]))
		as[i].slot = time.Duration(i%slots) * 20 * time.Millisecond / slots
		bs[i].slot = as[i].slot
	}

	// One second of pre-encoded audio per side (50 frames), looped.
	enc, err := opus.NewEncoder(opus.EncoderConfig{})
	if err != nil {
		return err
	}
	var opusFrames, ulawFrames [50][]byte
	for f := range 50 {
		buf := make([]byte, 1500)
		n, err := enc.Encode(audiocheck.Sine(48000, f*960, 960, 1000, 8000), buf)
		if err != nil {
			return err
		}
		opusFrames[f] = buf[:n]
		u := make([]byte, 160)
		codecs.UlawEncodeFrame(u, audiocheck.Sine(8000, f*160, 160, 600, 8000))
		ulawFrames[f] = u
	}

	ticks := int(duration / (20 * time.Millisecond))
	sent := make([]atomic.Int64, ticks)
	var lat latency
	var maxLat, late atomic.Int64
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
				d := time.Duration(time.Now().UnixNano()-sent[k].Load()) - l.slot
				lat.add(d)
				if d > 20*time.Millisecond {
					late.Add(1)
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
	fmt.Fprintln(out, "start")
	t0 := time.Now()
	next := t0
	behind := time.Duration(0)
	for k := range ticks {
		start := next
		next = next.Add(20 * time.Millisecond)
		sent[k].Store(start.UnixNano())
		for g := range slots {
			if d := time.Until(start.Add(time.Duration(g) * 20 * time.Millisecond / slots)); d > 0 {
				time.Sleep(d)
			}
			for i := g; i < calls; i += slots {
				for side, l := range []*leg{as[i], bs[i]} {
					payload, pt, step := opusFrames[k%50], byte(111), uint32(960)
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
		}
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		} else if -d > behind {
			behind = -d
		}
	}
	fmt.Fprintln(out, "stop")
	time.Sleep(300 * time.Millisecond) // let the last frames arrive
	var gotA, gotB, wrong uint64
	for i := range calls {
		gotA += as[i].got.Load()
		gotB += bs[i].got.Load()
		wrong += as[i].wrong.Load() + bs[i].wrong.Load()
		_ = as[i].conn.Close()
		_ = bs[i].conn.Close()
	}
	wg.Wait()
	want := uint64(calls * ticks)
	verdict := "OK"
	// The bar: no frame lost, and at most 0.1% of frames later than one
	// frame time (the load generator's own scheduling on a shared
	// machine adds a few).
	if gotA+gotB < 2*want || uint64(late.Load())*1000 > 2*want {
		verdict = "FAIL"
	}
	fmt.Fprintf(out, "frames_per_direction=%d opus_to_pcmu_received=%d pcmu_to_opus_received=%d loss=%d wrong=%d "+
		"latency_p50<%v p99<%v max=%v late_over_20ms=%d sender_max_behind=%v %s\n",
		want, gotB, gotA, 2*want-min(2*want, gotA+gotB), wrong, lat.quantile(0.5), lat.quantile(0.99),
		time.Duration(maxLat.Load()).Round(10*time.Microsecond), late.Load(), behind.Round(10*time.Microsecond), verdict)
	return nil
}
