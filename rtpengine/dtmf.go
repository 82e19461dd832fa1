package rtpengine

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
	"github.com/openborder/openborder/rtpengine/transcode"
)

// DTMF modes of a leg (DTMFFlags): how digits reach and leave its peer.
const (
	// DTMFRFC4733 carries digits as telephone-events in the RTP stream.
	DTMFRFC4733 = "rfc4733"
	// DTMFInfo carries digits in SIP INFO: the engine removes
	// telephone-event from that leg's SDP and drops event packets towards
	// it; the signalling plane sends the INFO (see Config.OnDigit) and
	// hands digits it receives to PlayDigit.
	DTMFInfo = "info"
	// DTMFInband carries digits as tones in the audio: detected with a
	// Goertzel detector on what the peer sends, generated into what it
	// receives.
	DTMFInband = "inband"
)

// Methods of a Digit.
const (
	MethodRFC4733 = "rfc4733"
	MethodInband  = "inband"
)

// DTMFFlags asks for DTMF processing (Flags.DTMF): the modes of the
// offerer's leg (From) and the other leg (To), DTMFRFC4733 when empty.
// Every digit a peer sends is reported (Config.OnDigit) and carried to the
// other peer in that peer's mode. Processing covers PCMU/PCMA streams
// relayed without transcoding here; transcoded streams get the same
// interworking inside their pipelines (transcode.DTMF).
type DTMFFlags struct {
	From, To string
	// Suppress mutes in-band digits detected on an inband leg in the audio
	// relayed to the other leg (which gets them as events or INFO); the
	// audio towards that leg is then delayed by the detector's 40 ms.
	Suppress bool
}

func (f *DTMFFlags) validate() error {
	if f == nil {
		return nil
	}
	for _, m := range []string{f.From, f.To} {
		switch m {
		case "", DTMFRFC4733, DTMFInfo, DTMFInband:
		default:
			return fmt.Errorf("%w: DTMF mode %q", ErrBadFlags, m)
		}
	}
	return nil
}

func dtmfMode(m string) string {
	if m == "" {
		return DTMFRFC4733
	}
	return m
}

// Digit is one DTMF digit a peer sent, as the engine detected it.
type Digit struct {
	CallID string
	// Tag is the monologue whose peer sent the digit.
	Tag string
	// Key is '0'-'9', '*', '#' or 'A'-'D'.
	Key      byte
	Duration time.Duration
	// Method is MethodRFC4733 or MethodInband.
	Method string
}

// digitQueueLen bounds the digits waiting for Config.OnDigit; beyond it
// digits are dropped and counted (DTMFStats).
const digitQueueLen = 256

// dspDigit is a digit to play into a stream.
type dspDigit struct {
	key byte
	dur time.Duration
}

// Codec kinds the DSP decodes and encodes.
const (
	codecNone uint8 = iota
	codecPCMU
	codecPCMA
)

// maxDSPFrame bounds the G.711 payloads the DSP handles (60 ms).
const maxDSPFrame = 480

// dspClock is the clock of the streams a DSP serves (G.711) and of their
// telephone-events.
const dspClock = 8000

// dspInjectQueue is how many digits PlayDigit may queue on a stream.
const dspInjectQueue = 16

// Tone levels and timing of digits the engine generates.
const (
	dtmfLevel     = -7.0        // dBm0, low-group tone
	dtmfTwist     = 2.0         // dB, high group louder (Q.23 allows up to 4)
	dtmfConvOn    = time.Minute // longest converted event
	dtmfInjectMax = 8 * time.Second
	dtmfInjectMin = 40 * time.Millisecond
)

// DTMFStats counts the engine's digit processing.
type DTMFStats struct {
	// Detected counts digits by method.
	RFC4733, Inband uint64
	// Played counts digits handed to PlayDigit.
	Played uint64
	// Dropped counts digits lost because OnDigit lagged.
	Dropped uint64
}

type dtmfCounters struct {
	rfc4733, inband, played, dropped atomic.Uint64
}

// dsp is the DTMF processing of one direction of a relayed stream: the
// packets one endpoint receives from its peer on their way to the
// partner. The control plane builds it; after that only the reader of the
// endpoint's RTP socket touches its state, except inject (a channel).
type dsp struct {
	e        *Engine
	callID   string
	tag      string
	in, out  string // effective modes of the sending and the receiving leg
	suppress bool
	inEv     int16 // telephone-event PT the sender uses (-1: none)
	outEv    int16 // telephone-event PT the receiver accepts (-1: none)
	outAudio int16 // a G.711 PT the receiver accepts (-1: none)
	codec    [128]uint8
	// inject queues digits PlayDigit sends into the stream; made by the
	// first PlayDigit (under the call's lock), as most calls never get one.
	inject atomic.Pointer[chan dspDigit]

	rx     *rfc4733.Receiver
	det    *dtmf.Detector
	sup    *dtmf.Suppressor
	digits []rfc4733.Digit
	events []dtmf.Event
	// pcm is the sample buffer of streams that decode or encode audio
	// (in-band on either side); nil for the others, so calls relaying
	// RFC 4733 events keep no buffer they never use.
	pcm []int16

	lastAudio int16 // PT of the last audio packet (-1: none yet)
	samples   int   // samples per audio packet (default 160)

	// conversion of received events into tones (out inband)
	conv      bool
	convTS    uint32
	convNext  uint32
	convEnded bool
	convGen   *dtmf.Generator

	// events written into the outgoing stream (out rfc4733)
	em rfc4733.Emitter

	// tone written into the outgoing audio (out inband)
	gen     *dtmf.Generator
	genLeft int
}

// startDigits starts the goroutine that hands digits to Config.OnDigit.
func (e *Engine) startDigits() {
	e.digitCh = make(chan Digit, digitQueueLen)
	if e.cfg.OnDigit == nil {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			select {
			case <-e.stop:
				return
			case d := <-e.digitCh:
				e.deliverDigit(d)
			}
		}
	}()
}

func (e *Engine) deliverDigit(d Digit) {
	defer func() {
		if v := recover(); v != nil {
			e.log.Error("digit handler panicked", "panic", v, "call_id", d.CallID)
		}
	}()
	e.cfg.OnDigit(d)
}

// report queues a detected digit; it never blocks.
func (d *dsp) report(key byte, dur time.Duration, method string) {
	d.e.reportDigit(d.callID, d.tag, key, dur, method)
}

// reportDigit counts a digit the peer of monologue tag sent and queues it
// for Config.OnDigit; it never blocks. Relayed streams (dsp) and
// transcoded ones (the pipeline's DTMF stage) report here.
func (e *Engine) reportDigit(callID, tag string, key byte, dur time.Duration, method string) {
	if method == MethodInband {
		e.dtmfc.inband.Add(1)
	} else {
		e.dtmfc.rfc4733.Add(1)
	}
	if e.cfg.OnDigit == nil {
		return
	}
	select {
	case e.digitCh <- Digit{CallID: callID, Tag: tag, Key: key, Duration: dur, Method: method}:
	default:
		e.dtmfc.dropped.Add(1)
	}
}

// DTMFStats returns the engine's digit counters.
func (e *Engine) DTMFStats() DTMFStats {
	return DTMFStats{RFC4733: e.dtmfc.rfc4733.Load(), Inband: e.dtmfc.inband.Load(),
		Played: e.dtmfc.played.Load(), Dropped: e.dtmfc.dropped.Load()}
}

// PlayDigit sends key ('0'-'9', '*', '#', 'A'-'D') to the peer of
// monologue tag for dur (40 ms to 8 s; 0 means 100 ms), as that leg's
// DTMF mode says: telephone-events or tones. The digit replaces the audio
// the other peer sends towards it, packet by packet, so it goes out as
// that audio flows. Calls without DTMF processing, and legs in info mode,
// get ErrBadRequest.
func (e *Engine) PlayDigit(callID, tag string, key byte, dur time.Duration) error {
	if _, err := rfc4733.Code(key); err != nil || key == '!' {
		return fmt.Errorf("%w: digit %q", ErrBadRequest, key)
	}
	if dur == 0 {
		dur = 100 * time.Millisecond
	}
	dur = min(max(dur, dtmfInjectMin), dtmfInjectMax)
	c, err := e.lockCall(callID, false)
	if err != nil {
		return err
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	m := c.mono[tag]
	if m == nil || m.other == nil {
		return fmt.Errorf("%w: tag %q in call %q", ErrNotFound, tag, callID)
	}
	sent := false
	for _, ep := range m.other.eps {
		if ep == nil {
			continue
		}
		if x := ep.xcode.Load(); x != nil {
			if x.pipe.DTMFOut() == transcode.DTMFDrop {
				continue
			}
			if err := x.pipe.PlayDigit(key, dur); err != nil {
				return fmt.Errorf("%w: %w", ErrBadRequest, err)
			}
			sent = true
			continue
		}
		d := ep.dsp.Load()
		if d == nil || d.out == DTMFInfo {
			continue
		}
		q := d.inject.Load()
		if q == nil {
			ch := make(chan dspDigit, dspInjectQueue)
			q = &ch
			d.inject.Store(q)
		}
		select {
		case *q <- dspDigit{key: key, dur: dur}:
			sent = true
		default:
			return fmt.Errorf("%w: too many digits queued", ErrBadRequest)
		}
	}
	if !sent {
		return fmt.Errorf("%w: no stream of call %q carries DTMF towards %q", ErrBadRequest, callID, tag)
	}
	e.dtmfc.played.Add(1)
	return nil
}

// packet runs the DSP on one received RTP packet and returns the packet
// to forward (b, possibly rewritten in place within its capacity) and
// whether to forward it at all.
func (d *dsp) packet(b []byte, h *rtpHeader, now int64) ([]byte, bool) {
	if b[0]&0x20 != 0 || h.headerLen >= len(b) {
		return b, true // padded or empty: not ours to touch
	}
	if int16(h.pt) == d.inEv {
		return d.event(b, h, now)
	}
	kind := d.codec[h.pt]
	payload := b[h.headerLen:]
	n := len(payload)
	if kind == codecNone || n > maxDSPFrame {
		return b, true
	}
	d.lastAudio, d.samples = int16(h.pt), n
	if d.rx != nil {
		d.digits = d.rx.Expire(d.digits[:0], monoTime(now))
		d.reportEvents()
	}
	if d.in == DTMFInband {
		d.detect(payload, kind, h)
	}
	if q := d.inject.Load(); q != nil && !d.em.Active() && d.gen == nil && d.out != DTMFInfo {
		select {
		case dg := <-*q:
			d.startInject(dg, h)
		default:
		}
	}
	if d.em.Active() {
		return d.emit(b, h), true
	}
	if d.gen != nil {
		pcm := d.frame(n)
		d.gen.Read(pcm)
		encode(payload, pcm, kind)
		if d.genLeft -= n; d.genLeft <= 0 {
			d.gen = nil
		}
	}
	return b, true
}

// frame returns n samples of the DSP's buffer (allocated at first use if
// newDSP did not: a stream that only ever relays events has none).
func (d *dsp) frame(n int) []int16 {
	if d.pcm == nil {
		d.pcm = make([]int16, maxDSPFrame)
	}
	return d.pcm[:n]
}

func monoTime(now int64) time.Time { return monoBase.Add(time.Duration(now)) }

func decode(pcm []int16, payload []byte, kind uint8) {
	if kind == codecPCMA {
		codecs.AlawDecodeFrame(pcm, payload)
	} else {
		codecs.UlawDecodeFrame(pcm, payload)
	}
}

func encode(payload []byte, pcm []int16, kind uint8) {
	if kind == codecPCMA {
		codecs.AlawEncodeFrame(payload, pcm)
	} else {
		codecs.UlawEncodeFrame(payload, pcm)
	}
}

// detect runs the in-band detector (or suppressor) on an audio payload.
func (d *dsp) detect(payload []byte, kind uint8, h *rtpHeader) {
	pcm := d.frame(len(payload))
	decode(pcm, payload, kind)
	if d.sup != nil {
		d.events = d.sup.Process(d.events[:0], pcm)
		encode(payload, pcm, kind)
	} else {
		d.events = d.det.Process(d.events[:0], pcm)
	}
	for _, ev := range d.events {
		switch ev.Kind {
		case dtmf.Start:
			if d.out == DTMFRFC4733 && !d.em.Active() {
				if code, err := rfc4733.Code(ev.Key); err == nil {
					d.em.Start(code, h.ts, 0)
				}
			}
		case dtmf.End:
			dur := time.Duration(ev.Duration) * time.Second / 8000
			d.report(ev.Key, dur, MethodInband)
			d.em.End()
		}
	}
}

// startInject begins playing an injected digit into the outgoing stream.
func (d *dsp) startInject(dg dspDigit, h *rtpHeader) {
	samples := uint32(dg.dur * 8000 / time.Second)
	if d.out == DTMFRFC4733 {
		code, _ := rfc4733.Code(dg.key)
		d.em.Start(code, h.ts, samples)
		return
	}
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Level: dtmfLevel, Twist: dtmfTwist, On: dg.dur})
	if err != nil || g.Play(string(dg.key)) != nil {
		return
	}
	d.gen, d.genLeft = g, int(samples)
}

// emit rewrites an audio packet into the next telephone-event packet of
// the event being sent: same sequence number and SSRC, the event's
// timestamp, the receiver's telephone-event payload type.
func (d *dsp) emit(b []byte, h *rtpHeader) []byte {
	b = b[:h.headerLen+rfc4733.PayloadSize]
	ts, marker := d.em.Next(b[h.headerLen:], uint32(d.samples))
	b[1] = uint8(d.outEv)
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint32(b[4:], ts)
	return b
}

// event handles a telephone-event packet from the sending peer.
func (d *dsp) event(b []byte, h *rtpHeader, now int64) ([]byte, bool) {
	payload := b[h.headerLen:]
	if d.rx != nil {
		var err error
		d.digits, err = d.rx.Push(d.digits[:0], monoTime(now), h.ts, b[1]&0x80 != 0, h.seq, payload)
		if err == nil {
			d.reportEvents()
		}
	}
	switch d.out {
	case DTMFRFC4733:
		if d.outEv != d.inEv {
			b[1] = b[1]&0x80 | uint8(d.outEv)
		}
		return b, true
	case DTMFInband:
		return d.convert(b, h)
	}
	return nil, false // info: the signalling plane sends the digit
}

func (d *dsp) reportEvents() {
	for _, dg := range d.digits {
		if key, err := rfc4733.Key(dg.Code); err == nil && dg.Code <= rfc4733.MaxDTMF {
			d.report(key, dg.DurationTime(dspClock), MethodRFC4733)
		}
	}
}

// convert turns a telephone-event packet into an audio packet carrying the
// tone for the duration the event grew by (or silence after its end), in
// the codec the sender's audio uses.
func (d *dsp) convert(b []byte, h *rtpHeader) ([]byte, bool) {
	ev, err := rfc4733.Parse(b[h.headerLen:])
	if err != nil || ev.Code > rfc4733.MaxDTMF {
		return nil, false
	}
	pt := d.lastAudio
	if pt < 0 {
		pt = d.outAudio
	}
	if pt < 0 {
		return nil, false
	}
	kind := d.codec[pt]
	if kind == codecNone {
		kind = codecPCMU
		if pt == 8 {
			kind = codecPCMA
		}
	}
	if !d.conv || h.ts != d.convTS {
		if d.conv && int32(h.ts-d.convTS) < 0 {
			return nil, false // a late packet of an older event
		}
		key, _ := rfc4733.Key(ev.Code)
		g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Level: dtmfLevel, Twist: dtmfTwist, On: dtmfConvOn})
		if err != nil || g.Play(string(key)) != nil {
			return nil, false
		}
		d.conv, d.convTS, d.convNext, d.convEnded, d.convGen = true, h.ts, h.ts, false, g
	}
	grown := int32(uint32(ev.Duration) - (d.convNext - d.convTS))
	var n int
	switch {
	case d.convEnded || grown <= 0 && ev.End: // redundant end packets become silence
		n = d.samples
		clear(d.frame(n))
	case grown > 0:
		n = min(int(grown), maxDSPFrame)
		d.convGen.Read(d.frame(n))
	default:
		return nil, false // a repeated update
	}
	if ev.End {
		d.convEnded = true
	}
	if h.headerLen+n > cap(b) {
		return nil, false
	}
	b = b[:h.headerLen+n]
	encode(b[h.headerLen:], d.frame(n), kind)
	b[1] = uint8(pt)
	binary.BigEndian.PutUint32(b[4:], d.convNext)
	d.convNext += uint32(n)
	return b, true
}
