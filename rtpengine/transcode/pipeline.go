package transcode

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/codecs/resample"
)

// Defaults of Config.
const (
	DefaultPtime = 20 * time.Millisecond
	DefaultDepth = 2
	// DefaultOpusComplexity (the restricted low-delay encoder's),
	// DefaultOpusComplexityVoIP and DefaultOpusBitrate are the Opus
	// encoder settings chosen from docs/dsp.md: at 8 and 16 kHz input the
	// restricted low-delay encoder (Config.OpusVoIP false) at complexity
	// 0 and 32 kbit/s gives a 1 kHz tone 33 dB SNR for 13 µs a frame
	// (complexity 3: the same SNR, less of the speech waveform, 17 µs),
	// where the VoIP encoder needs 50 µs at complexity 3 for 34-36 dB
	// (and loses 5 dB at complexity 0).
	DefaultOpusComplexity     = 0
	DefaultOpusComplexityVoIP = 3
	DefaultOpusBitrate        = 32000
)

// Buffer sizes: 120 ms at 48 kHz is the longest Opus packet.
const (
	maxFrame = 5760
	fifoSize = 8192
	outSize  = 12 + 4000
)

// Config configures one direction of a transcoded stream.
type Config struct {
	// In is the codec received and decoded; Out the codec encoded and sent.
	In, Out Codec
	// InEventPT and OutEventPT are the telephone-event payload types of
	// the two sides; 0 means that side has none (events are then dropped).
	InEventPT, OutEventPT uint8
	// Ptime is the duration of each outgoing packet: 10, 20, 30 or 40 ms
	// (Opus: 10, 20, 40 or 60 ms). Default 20 ms.
	Ptime time.Duration
	// Depth is how many later packets the reorder buffer waits for before
	// it declares a missing packet lost (1 to 8). Default 2.
	Depth int
	// SSRC of the outgoing stream. Default 0: random.
	SSRC uint32
	// OpusComplexity (1-10, or -1 for 0; default DefaultOpusComplexity,
	// DefaultOpusComplexityVoIP with OpusVoIP or OpusFEC),
	// OpusBitrate (bit/s; default DefaultOpusBitrate) and OpusFEC (in-band
	// forward error correction; default off) configure an Opus encoder.
	OpusComplexity int
	OpusBitrate    int
	OpusFEC        bool
	// OpusVoIP runs the Opus encoder as libopus application VoIP, whose
	// speech modes (SILK, hybrid) carry in-band FEC; OpusFEC implies it.
	// Default false: restricted low delay (CELT only), which at 8 and
	// 16 kHz input costs about a third of the VoIP encoder's CPU for a
	// tone SNR within 1.5 dB at the default bitrate (docs/dsp.md).
	OpusVoIP bool
	// DTMF, when set, detects, converts and reports digits (see DTMF).
	// Default nil: telephone-events are re-mapped when both sides have
	// a telephone-event payload type, else dropped.
	DTMF *DTMF
	// Output receives every packet to send (an RTP packet in a buffer
	// that is reused after Output returns). Required.
	Output func(pkt []byte)
}

func (c *Config) normalise() error {
	c.In.Name, c.Out.Name = strings.ToLower(c.In.Name), strings.ToLower(c.Out.Name)
	if !Supported(c.In.Name) || !Supported(c.Out.Name) {
		return fmt.Errorf("%w: %q to %q", ErrCodec, c.In.Name, c.Out.Name)
	}
	if c.In.PT > 127 || c.Out.PT > 127 || c.InEventPT > 127 || c.OutEventPT > 127 {
		return fmt.Errorf("%w: payload type above 127", ErrConfig)
	}
	if c.Ptime == 0 {
		c.Ptime = DefaultPtime
	}
	ok := false
	valid := []time.Duration{10, 20, 30, 40}
	if c.Out.Name == Opus {
		valid = []time.Duration{10, 20, 40, 60}
	}
	for _, v := range valid {
		ok = ok || c.Ptime == v*time.Millisecond
	}
	if !ok {
		return fmt.Errorf("%w: ptime %v for %s", ErrConfig, c.Ptime, c.Out.Name)
	}
	if c.OpusComplexity == 0 {
		c.OpusComplexity = -1 // DefaultOpusComplexity, 0
		if c.OpusVoIP || c.OpusFEC {
			c.OpusComplexity = DefaultOpusComplexityVoIP
		}
	}
	if c.OpusBitrate == 0 {
		c.OpusBitrate = DefaultOpusBitrate
	}
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.Depth < 1 || c.Depth > 8 {
		return fmt.Errorf("%w: depth %d (want 1 to 8)", ErrConfig, c.Depth)
	}
	if c.Output == nil {
		return fmt.Errorf("%w: no Output", ErrConfig)
	}
	return nil
}

// Stats counts what a pipeline did. Read it with Pipeline.Stats from any
// goroutine.
type Stats struct {
	PacketsIn, PacketsOut uint64
	BytesOut              uint64
	// Concealed counts frames lost and replaced by PLC or FEC.
	Concealed uint64
	// Late counts late or duplicate packets dropped by the reorder buffer.
	Late uint64
	// Events counts telephone-event packets passed (re-mapped).
	Events uint64
	// Errors counts undecodable packets; Ignored packets of other
	// payload types (comfort noise, unknown) and events with nowhere to go.
	Errors, Ignored uint64
	// Digits counts DTMF digits reported (Config.DTMF).
	Digits uint64
}

type stats struct {
	in, out, bytes, concealed, late, events, errors, ignored, digits atomic.Uint64
}

// Pipeline transcodes one direction of a stream. Not safe for concurrent use.
type Pipeline struct {
	cfg      Config
	dec      decoder
	enc      encoder
	rs       *resample.Resampler
	decRate  int
	encRate  int
	inClock  int
	outClock int
	frame    int    // PCM samples per outgoing packet (at encRate)
	step     uint32 // RTP timestamp units per outgoing packet

	jb reorder

	// input timeline
	ssrcIn   uint32
	haveSSRC bool
	haveLast bool
	lastTS   uint32 // timestamp of the last frame decoded or concealed
	lastDur  uint32 // its duration in input clock units
	lastN    int    // its duration in decoded samples

	// output timeline
	ssrc      uint32
	seq       uint16
	ts        uint32
	marker    bool
	anchorIn  uint32 // input timestamp whose first sample is at anchorOut
	anchorOut uint32
	evIn      uint32 // current event's input and output timestamps
	evOut     uint32
	haveEv    bool

	// RTCP sender/receiver bookkeeping
	sentPackets, sentOctets  uint32
	expectedPrior, lostPrior uint32
	received, lost           uint32
	firstSeq                 uint16
	cycles                   uint32
	maxSeq                   uint16

	st stats

	dtmf *digits // nil without Config.DTMF

	pcm   [maxFrame]int16
	rsOut [maxFrame]int16
	fifo  [fifoSize]int16
	fifoN int
	out   [outSize]byte
}

// New builds a pipeline. Opus is decoded and encoded at the PCM rate of
// the other codec (8 kHz for G.711, 16 kHz for G.722).
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, inClock: clockRate(cfg.In.Name), outClock: clockRate(cfg.Out.Name)}
	p.decRate, p.encRate = pcmRate(cfg.In.Name), pcmRate(cfg.Out.Name)
	if cfg.In.Name == Opus {
		p.decRate = p.encRate
	}
	if cfg.Out.Name == Opus {
		p.encRate = p.decRate
	}
	var err error
	if p.dec, err = newDecoder(cfg.In.Name, p.decRate); err != nil {
		return nil, err
	}
	if p.enc, err = newEncoder(cfg.Out.Name, p.encRate, &p.cfg); err != nil {
		return nil, err
	}
	if p.decRate != p.encRate {
		if p.rs, err = resample.New(p.decRate, p.encRate); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCodec, err)
		}
	}
	p.frame = int(int64(p.encRate) * int64(cfg.Ptime) / int64(time.Second))
	p.step = uint32(int64(p.outClock) * int64(cfg.Ptime) / int64(time.Second))
	p.jb.depth = cfg.Depth
	if err := p.setupDTMF(); err != nil {
		return nil, err
	}
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	p.ssrc = cfg.SSRC
	if p.ssrc == 0 {
		p.ssrc = binary.BigEndian.Uint32(rnd[0:])
	}
	p.seq = binary.BigEndian.Uint16(rnd[4:])
	p.ts = binary.BigEndian.Uint32(rnd[6:])
	p.marker = true
	return p, nil
}

// String describes the pipeline, e.g. "opus/48000 pt 111 -> pcmu/8000 pt 0, 20ms".
func (p *Pipeline) String() string {
	return fmt.Sprintf("%s/%d pt %d -> %s/%d pt %d, %v", p.cfg.In.Name, p.inClock, p.cfg.In.PT,
		p.cfg.Out.Name, p.outClock, p.cfg.Out.PT, p.cfg.Ptime)
}

// SSRC returns the outgoing stream's SSRC.
func (p *Pipeline) SSRC() uint32 { return p.ssrc }

// Stats returns the pipeline's counters; safe from any goroutine.
func (p *Pipeline) Stats() Stats {
	s := &p.st
	return Stats{PacketsIn: s.in.Load(), PacketsOut: s.out.Load(), BytesOut: s.bytes.Load(),
		Concealed: s.concealed.Load(), Late: s.late.Load(), Events: s.events.Load(),
		Errors: s.errors.Load(), Ignored: s.ignored.Load(), Digits: s.digits.Load()}
}

// rtpHeader is the part of an RTP header the pipeline uses.
type rtpHeader struct {
	marker  bool
	pt      uint8
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload []byte
}

// parseRTP checks an RTP packet (RFC 3550 5.1) and finds its payload.
func parseRTP(b []byte, h *rtpHeader) error {
	if len(b) < 12 || b[0]>>6 != 2 {
		return fmt.Errorf("%w: %d bytes, not RTP version 2", ErrPacket, len(b))
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return fmt.Errorf("%w: truncated header extension", ErrPacket)
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		pad := int(b[len(b)-1])
		if pad == 0 || pad > end-off {
			return fmt.Errorf("%w: bad padding", ErrPacket)
		}
		end -= pad
	}
	if off > end {
		return fmt.Errorf("%w: header longer than packet", ErrPacket)
	}
	h.marker = b[1]&0x80 != 0
	h.pt = b[1] & 0x7f
	h.seq = binary.BigEndian.Uint16(b[2:])
	h.ts = binary.BigEndian.Uint32(b[4:])
	h.ssrc = binary.BigEndian.Uint32(b[8:])
	h.payload = b[off:end]
	return nil
}

// HandleRTP takes one received RTP packet and emits, through Output,
// whatever packets it completes. Errors describe a packet that was
// dropped; the pipeline stays usable.
func (p *Pipeline) HandleRTP(pkt []byte) error {
	var h rtpHeader
	if err := parseRTP(pkt, &h); err != nil {
		p.st.errors.Add(1)
		return err
	}
	switch {
	case h.pt == p.cfg.In.PT:
	case p.cfg.InEventPT != 0 && h.pt == p.cfg.InEventPT:
		if p.haveSSRC && h.ssrc == p.ssrcIn && p.jb.putEvent(h.seq) {
			p.noteSeq(h.seq)
			p.drain(false)
		}
		if p.dtmf != nil {
			return p.dtmfEvent(&h)
		}
		return p.event(&h)
	default:
		p.st.ignored.Add(1)
		return fmt.Errorf("%w: %d", ErrPayloadType, h.pt)
	}
	p.st.in.Add(1)
	p.expireEvents()
	if !p.haveSSRC || h.ssrc != p.ssrcIn {
		// A new source: its sequence and timestamps start afresh.
		p.flushReorder()
		p.haveSSRC, p.ssrcIn, p.haveLast = true, h.ssrc, false
		p.firstSeq, p.maxSeq, p.cycles, p.received, p.lost = h.seq, h.seq, 0, 0, 0
		p.expectedPrior, p.lostPrior = 0, 0
		p.marker = true
	}
	p.noteSeq(h.seq)
	ok, jump := p.jb.put(h.seq, h.ts, h.marker, h.payload)
	if jump {
		p.flushReorder()
		p.jb.reset()
		p.haveLast = false
		p.marker = true
		ok, _ = p.jb.put(h.seq, h.ts, h.marker, h.payload)
	}
	if !ok {
		p.st.late.Add(1)
		return nil
	}
	p.drain(false)
	return nil
}

// noteSeq follows the extended highest sequence number for RTCP.
func (p *Pipeline) noteSeq(seq uint16) {
	p.received++
	if d := seq - p.maxSeq; d != 0 && d < 0x8000 {
		if seq < p.maxSeq {
			p.cycles += 1 << 16
		}
		p.maxSeq = seq
	}
}

// drain plays out what the reorder buffer can release; all forces out
// everything it holds (a new source or a jump).
func (p *Pipeline) drain(all bool) {
	for p.jb.held > 0 {
		if s := p.jb.head(); s != nil {
			if !s.event {
				p.play(s)
			}
			p.jb.pop(s)
			continue
		}
		if !all && !p.jb.missing() {
			return
		}
		var next []byte
		if s := p.jb.after(); s != nil {
			next = s.data[:s.n]
		}
		p.conceal(next)
		p.jb.skip()
	}
}

func (p *Pipeline) flushReorder() {
	p.drain(true)
}

// play decodes one in-order packet into the output.
func (p *Pipeline) play(s *slot) {
	payload := s.data[:s.n]
	if p.overlapsEvent(s.ts) {
		p.st.ignored.Add(1) // audio under a converted telephone-event
		return
	}
	n, err := p.dec.samples(payload)
	if err != nil || n <= 0 || n > maxFrame {
		p.st.errors.Add(1)
		return
	}
	dur := uint32(int64(n) * int64(p.inClock) / int64(p.decRate))
	if p.haveLast {
		if gap := int32(s.ts - (p.lastTS + p.lastDur)); gap > 0 {
			// Silence (DTX or silence suppression): keep the timeline.
			p.padFrame()
			p.ts += uint32(int64(gap) * int64(p.outClock) / int64(p.inClock))
			p.marker = true
		}
	}
	if s.marker {
		p.marker = true
	}
	got, err := p.dec.decode(payload, p.pcm[:])
	if err != nil {
		p.st.errors.Add(1)
		return
	}
	p.haveLast, p.lastTS, p.lastDur, p.lastN = true, s.ts, dur, got
	p.push(s.ts, p.pcm[:got])
}

// conceal replaces one lost packet (of the last packet's duration).
func (p *Pipeline) conceal(next []byte) {
	p.lost++
	if !p.haveLast || p.lastN == 0 {
		return
	}
	n := p.lastN
	if err := p.dec.conceal(p.pcm[:n], next); err != nil {
		clear(p.pcm[:n])
	}
	p.st.concealed.Add(1)
	p.lastTS += p.lastDur
	p.push(p.lastTS, p.pcm[:n])
}

// push resamples decoded PCM into the FIFO and encodes every whole frame.
func (p *Pipeline) push(ts uint32, pcm []int16) {
	p.anchorIn = ts
	p.anchorOut = p.ts + uint32(int64(p.fifoN)*int64(p.outClock)/int64(p.encRate))
	p.detect(pcm)
	if p.rs != nil {
		n, err := p.rs.Process(p.rsOut[:], pcm)
		if err != nil {
			p.st.errors.Add(1)
			return
		}
		pcm = p.rsOut[:n]
	}
	for len(pcm) > 0 {
		n := copy(p.fifo[p.fifoN:], pcm)
		p.fifoN += n
		pcm = pcm[n:]
		p.encodeFrames()
	}
}

// padFrame completes a partial frame with silence and sends it.
func (p *Pipeline) padFrame() {
	if p.fifoN == 0 || p.fifoN%p.frame == 0 {
		return
	}
	end := (p.fifoN/p.frame + 1) * p.frame
	clear(p.fifo[p.fifoN:end])
	p.fifoN = end
	p.encodeFrames()
}

func (p *Pipeline) encodeFrames() {
	off := 0
	for p.fifoN-off >= p.frame {
		if p.frameDTMF(p.fifo[off : off+p.frame]) {
			off += p.frame
			p.ts += p.step
			continue
		}
		n, err := p.enc.encode(p.fifo[off:off+p.frame], p.out[12:])
		off += p.frame
		if err != nil {
			p.st.errors.Add(1)
			p.ts += p.step
			continue
		}
		p.send(p.cfg.Out.PT, p.marker, p.ts, n)
		p.marker = false
		p.ts += p.step
	}
	if off > 0 {
		p.fifoN = copy(p.fifo[:], p.fifo[off:p.fifoN])
	}
}

// send writes the header in front of n payload bytes in p.out and outputs it.
func (p *Pipeline) send(pt uint8, marker bool, ts uint32, n int) {
	b := p.out[:12+n]
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], p.seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], p.ssrc)
	p.seq++
	p.sentPackets++
	p.sentOctets += uint32(n)
	p.st.out.Add(1)
	p.st.bytes.Add(uint64(len(b)))
	p.cfg.Output(b)
}

// event passes a telephone-event packet (RFC 4733) to the other side's
// payload type, in the outgoing sequence and timestamp space.
func (p *Pipeline) event(h *rtpHeader) error {
	if p.cfg.OutEventPT == 0 || len(h.payload) < 4 || len(h.payload) > outSize-12 {
		p.st.ignored.Add(1)
		return nil
	}
	if !p.haveEv || h.ts != p.evIn {
		p.evIn, p.haveEv = h.ts, true
		if p.haveLast {
			p.evOut = p.anchorOut + uint32(int64(int32(h.ts-p.anchorIn))*int64(p.outClock)/int64(p.inClock))
		} else {
			p.evOut = p.ts
		}
	}
	// Event durations count in the RTP clock; rescale when clocks differ.
	pl := p.out[12 : 12+len(h.payload)]
	copy(pl, h.payload)
	if p.inClock != p.outClock {
		for i := 0; i+4 <= len(pl); i += 4 {
			d := uint32(binary.BigEndian.Uint16(pl[i+2:])) * uint32(p.outClock) / uint32(p.inClock)
			binary.BigEndian.PutUint16(pl[i+2:], uint16(min(d, 0xffff)))
		}
	}
	p.st.events.Add(1)
	p.send(p.cfg.OutEventPT, h.marker, p.evOut, len(pl))
	return nil
}

// ntp converts a wall clock time to the 64-bit NTP format.
func ntp(t time.Time) uint64 {
	s := uint64(t.Unix() + 2208988800)
	f := uint64(t.Nanosecond()) << 32 / 1e9
	return s<<32 | f
}

// AppendSenderReport appends an RTCP sender report (RFC 3550 6.4.1) for
// the outgoing stream, with one report block about the received stream,
// and returns dst. The engine sends it to the outgoing side's RTCP
// address about every five seconds once streams are no longer passed
// through. Call it from the goroutine that drives the pipeline.
func (p *Pipeline) AppendSenderReport(dst []byte, now time.Time) []byte {
	blocks := 0
	if p.haveSSRC {
		blocks = 1
	}
	words := 6 + 6*blocks
	b := make([]byte, 4*(words+1))
	b[0] = 0x80 | byte(blocks)
	b[1] = 200
	binary.BigEndian.PutUint16(b[2:], uint16(words))
	binary.BigEndian.PutUint32(b[4:], p.ssrc)
	binary.BigEndian.PutUint64(b[8:], ntp(now))
	binary.BigEndian.PutUint32(b[16:], p.ts)
	binary.BigEndian.PutUint32(b[20:], p.sentPackets)
	binary.BigEndian.PutUint32(b[24:], p.sentOctets)
	if blocks == 1 {
		r := b[28:]
		binary.BigEndian.PutUint32(r, p.ssrcIn)
		ext := p.cycles | uint32(p.maxSeq)
		expected := ext - uint32(p.firstSeq) + 1
		lost := int64(expected) - int64(p.received)
		if lost < 0 {
			lost = 0
		}
		de := expected - p.expectedPrior
		dl := uint32(lost) - p.lostPrior
		p.expectedPrior, p.lostPrior = expected, uint32(lost)
		var frac uint32
		if de > 0 && int32(dl) > 0 {
			frac = min(dl<<8/de, 255)
		}
		binary.BigEndian.PutUint32(r[4:], frac<<24|uint32(min(lost, 0x7fffff)))
		binary.BigEndian.PutUint32(r[8:], ext)
	}
	return append(dst, b...)
}
