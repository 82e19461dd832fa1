package conference

import (
	"encoding/binary"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
)

// talker sends a sine of its own frequency as RTP in its codec.
type talker struct {
	codec string
	pt    uint8
	hz    float64
	amp   float64
	phase float64
	enc   encoder
	seq   uint16
	ts    uint32
	ssrc  uint32
	pcm   [Frame]int16
	pkt   [pktSize]byte
}

func newTalker(t testing.TB, codec string, pt uint8, hz, amp float64) *talker {
	t.Helper()
	cfg, _ := Config{}.withDefaults()
	e, err := newEncoder(codec, FrameTime, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &talker{codec: codec, pt: pt, hz: hz, amp: amp, enc: e, seq: 1000, ts: 5000, ssrc: uint32(hz)}
}

// packet returns the next 20 ms RTP packet.
func (k *talker) packet() []byte {
	for i := range k.pcm {
		k.pcm[i] = int16(math.Round(k.amp * math.Sin(k.phase)))
		k.phase += 2 * math.Pi * k.hz / Rate
	}
	k.phase = math.Mod(k.phase, 2*math.Pi)
	n, err := k.enc.encode(k.pcm[:], k.pkt[12:])
	if err != nil {
		panic(err)
	}
	b := k.pkt[:12+n]
	b[0], b[1] = 0x80, k.pt
	binary.BigEndian.PutUint16(b[2:], k.seq)
	binary.BigEndian.PutUint32(b[4:], k.ts)
	binary.BigEndian.PutUint32(b[8:], k.ssrc)
	k.seq++
	k.ts += uint32(clockRate(k.codec) / 50)
	return b
}

// listener collects what a participant is sent and decodes it with the
// codec libraries directly (not the mixer's own decoders).
type listener struct {
	t     testing.TB
	codec string
	mu    sync.Mutex
	pkts  []rtpHead
	pcm   []int16 // decoded, at the codec's PCM rate
	g722  *g722.Decoder
	opus  *opus.Decoder
}

type rtpHead struct {
	pt     uint8
	marker bool
	seq    uint16
	ts     uint32
	ssrc   uint32
	n      int
}

func newListener(t testing.TB, codec string) *listener {
	l := &listener{t: t, codec: codec}
	switch codec {
	case G722:
		l.g722 = g722.NewDecoder()
	case Opus:
		d, err := opus.NewDecoder(opus.DecoderConfig{SampleRate: Rate, Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		l.opus = d
	}
	return l
}

// rate is the PCM rate of the decoded output.
func (l *listener) rate() int {
	if l.codec == PCMU || l.codec == PCMA {
		return 8000
	}
	return Rate
}

func (l *listener) output(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := rtpHead{pt: b[1] & 0x7f, marker: b[1]&0x80 != 0, seq: binary.BigEndian.Uint16(b[2:]),
		ts: binary.BigEndian.Uint32(b[4:]), ssrc: binary.BigEndian.Uint32(b[8:]), n: len(b) - 12}
	l.pkts = append(l.pkts, h)
	pay := b[12:]
	var buf [4000]int16
	var n int
	var err error
	switch l.codec {
	case PCMU:
		n = codecs.UlawDecodeFrame(buf[:], pay)
	case PCMA:
		n = codecs.AlawDecodeFrame(buf[:], pay)
	case G722:
		n, err = l.g722.Decode(buf[:], pay)
	case Opus:
		n, err = l.opus.Decode(pay, buf[:])
	}
	if err != nil {
		l.t.Errorf("%s output: %v", l.codec, err)
		return
	}
	l.pcm = append(l.pcm, buf[:n]...)
}

// level returns the amplitude of freq in the last d of the output.
func (l *listener) level(freq float64, d time.Duration) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := int(int64(l.rate()) * int64(d) / int64(time.Second))
	if n > len(l.pcm) {
		n = len(l.pcm)
	}
	return amplitude(l.pcm[len(l.pcm)-n:], freq, l.rate())
}

// amplitude estimates the peak amplitude of freq in s (Goertzel).
func amplitude(s []int16, freq float64, rate int) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range s {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	return 2 * math.Hypot(re, im) / float64(len(s))
}

// testRoom builds a room driven by the test (no clock goroutine).
func testRoom(t testing.TB, cfg Config) (*room, *Config) {
	t.Helper()
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newRoom("test"), &c
}

func (r *room) add(t testing.TB, cfg *Config, pc ParticipantConfig) *Participant {
	t.Helper()
	p, err := newParticipant(pc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.room = r
	r.parts = append(r.parts, p)
	return p
}

// quiet discards a test bridge's logs.
func quiet(c Config) Config {
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}
