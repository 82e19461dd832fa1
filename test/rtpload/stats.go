package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Packet layout: a 12-byte RTP header (version 2, no CSRC, no extension)
// followed by the payload, whose first 16 bytes are the probe.
const (
	rtpHeaderLen = 12
	probeLen     = 16 // stream uint32, sequence uint32, send time int64 (ns)
	minPayload   = probeLen
)

var (
	errShort   = errors.New("packet shorter than RTP header and probe")
	errVersion = errors.New("not RTP version 2")
)

// stamp writes the RTP sequence/timestamp and the probe into a packet that
// was prepared by newPacket. It does not allocate.
func stamp(pkt []byte, seq uint32, rtpTS uint32, sentNs int64) {
	binary.BigEndian.PutUint16(pkt[2:4], uint16(seq))
	binary.BigEndian.PutUint32(pkt[4:8], rtpTS)
	binary.BigEndian.PutUint32(pkt[rtpHeaderLen+4:], seq)
	binary.BigEndian.PutUint64(pkt[rtpHeaderLen+8:], uint64(sentNs))
}

// newPacket returns a packet of stream s with a payload of n bytes
// (n >= minPayload), payload type pt and SSRC ssrc.
func newPacket(s uint32, n int, pt uint8, ssrc uint32) []byte {
	pkt := make([]byte, rtpHeaderLen+n)
	pkt[0] = 0x80
	pkt[1] = pt & 0x7f
	binary.BigEndian.PutUint32(pkt[8:12], ssrc)
	binary.BigEndian.PutUint32(pkt[rtpHeaderLen:], s)
	for i := rtpHeaderLen + probeLen; i < len(pkt); i++ {
		pkt[i] = 0xff // G.711 µ-law silence
	}
	return pkt
}

// probe reads the stream, sequence and send time of a received packet.
func probe(pkt []byte) (stream, seq uint32, sentNs int64, err error) {
	if len(pkt) < rtpHeaderLen+probeLen {
		return 0, 0, 0, errShort
	}
	if pkt[0]>>6 != 2 {
		return 0, 0, 0, errVersion
	}
	p := pkt[rtpHeaderLen:]
	return binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), int64(binary.BigEndian.Uint64(p[8:])), nil
}

// streamStats is what the receiver of one stream saw. It is owned by one
// receiver goroutine.
type streamStats struct {
	seen       []uint64 // bitmap of sequence numbers received
	limit      uint32   // sequence numbers from here on cannot have been sent
	received   uint64   // distinct packets
	duplicates uint64
	reordered  uint64 // arrived after a higher sequence number
	outOfRange uint64 // sequence number beyond what can have been sent
	maxSeq     uint32
	any        bool
}

// newStreamStats returns stats for a stream of at most n packets.
func newStreamStats(n int) *streamStats {
	return &streamStats{seen: make([]uint64, (n+63)/64), limit: uint32(n)}
}

// record counts one packet with sequence number seq.
func (s *streamStats) record(seq uint32) {
	if seq >= s.limit {
		s.outOfRange++
		return
	}
	w := seq / 64
	bit := uint64(1) << (seq % 64)
	if s.seen[w]&bit != 0 {
		s.duplicates++
		return
	}
	s.seen[w] |= bit
	s.received++
	if s.any && seq < s.maxSeq {
		s.reordered++
		return
	}
	s.maxSeq, s.any = seq, true
}

// Histogram of latencies in microseconds: exact below linearLimit, then
// 1024 sub-buckets per power of two (relative error below 0.1%).
const (
	linearLimit = 2048
	subBuckets  = 1024
	maxExp      = 40 // up to 2^51 µs, far beyond any run
	numBuckets  = linearLimit + maxExp*subBuckets
)

type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	maxNs  int64
}

func bucketOf(us uint64) int {
	if us < linearLimit {
		return int(us)
	}
	e := bits.Len64(us) - 11 // us >> e is in [1024, 2048)
	if e > maxExp {
		return numBuckets - 1
	}
	return linearLimit + (e-1)*subBuckets + int(us>>e) - subBuckets
}

// lowerBound is the smallest latency in µs that falls in bucket i.
func lowerBound(i int) uint64 {
	if i < linearLimit {
		return uint64(i)
	}
	i -= linearLimit
	e := i/subBuckets + 1
	return uint64(i%subBuckets+subBuckets) << e
}

// add records one latency. Negative values (impossible with a monotonic
// clock) count as zero.
func (h *histogram) add(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(uint64(ns)/1000)]++
	h.n++
	if ns > h.maxNs {
		h.maxNs = ns
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.maxNs = max(h.maxNs, o.maxNs)
}

// quantile returns the latency in µs at or below which a fraction q of the
// samples lie (nearest rank, the bucket's lower bound); 0 without samples.
func (h *histogram) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			return lowerBound(i)
		}
	}
	return lowerBound(numBuckets - 1)
}

// totals sums the streams of a run.
type totals struct {
	sent, received, lost, duplicates, reordered, outOfRange uint64
	worstStreamLoss                                         uint64 // most packets lost on one stream
	streamsWithLoss                                         int
}

// summarize compares what was sent on each stream with what arrived.
// sent[i] is the number of packets written on stream i.
func summarize(sent []uint64, streams []*streamStats) (totals, error) {
	if len(sent) != len(streams) {
		return totals{}, fmt.Errorf("%d send counters for %d streams", len(sent), len(streams))
	}
	var t totals
	for i, s := range streams {
		t.sent += sent[i]
		t.received += s.received
		t.duplicates += s.duplicates
		t.reordered += s.reordered
		t.outOfRange += s.outOfRange
		if s.received < sent[i] {
			l := sent[i] - s.received
			t.lost += l
			t.streamsWithLoss++
			t.worstStreamLoss = max(t.worstStreamLoss, l)
		}
	}
	return t, nil
}

// lossPercent is lost/sent in percent (0 when nothing was sent).
func (t totals) lossPercent() float64 {
	if t.sent == 0 {
		return 0
	}
	return 100 * float64(t.lost) / float64(t.sent)
}

// kv builds the single key=value result line.
type kv struct{ b strings.Builder }

func (k *kv) add(key string, format string, v any) {
	if k.b.Len() > 0 {
		k.b.WriteByte(' ')
	}
	k.b.WriteString(key)
	k.b.WriteByte('=')
	fmt.Fprintf(&k.b, format, v)
}

func (k *kv) String() string { return k.b.String() }

// get is the value last added under key ("" and false if none).
func (k *kv) get(key string) (string, bool) {
	v, found := "", false
	for _, f := range strings.Fields(k.b.String()) {
		if name, val, ok := strings.Cut(f, "="); ok && name == key {
			v, found = val, true
		}
	}
	return v, found
}
