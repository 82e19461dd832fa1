package transcode

import (
	"fmt"
	"time"

	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
)

// Methods a digit arrived by (DTMF.OnDigit).
const (
	MethodRFC4733 = "rfc4733"
	MethodInband  = "inband"
)

// DTMFOut says how digits leave a pipeline towards the receiving peer.
type DTMFOut uint8

const (
	// DTMFEvents sends digits as RFC 4733 telephone-events with
	// Config.OutEventPT (tones when OutEventPT is 0).
	DTMFEvents DTMFOut = iota
	// DTMFTones sends digits as tones in the encoded audio.
	DTMFTones
	// DTMFDrop sends digits nowhere in the media (the signalling plane
	// carries them, e.g. as SIP INFO); they are still reported.
	DTMFDrop
)

func (o DTMFOut) String() string {
	switch o {
	case DTMFEvents:
		return "events"
	case DTMFTones:
		return "tones"
	case DTMFDrop:
		return "drop"
	}
	return fmt.Sprintf("DTMFOut(%d)", uint8(o))
}

// DTMF configures digit interworking inside a pipeline (Config.DTMF).
// Without it telephone-events are only re-mapped (or dropped when either
// side has none) and nothing is detected.
type DTMF struct {
	// Detect runs the in-band (Goertzel) detector on the decoded audio:
	// the sending peer signals digits as tones. Default false.
	Detect bool
	// Out is how digits leave: received telephone-events, detected tones
	// and digits handed to PlayDigit. Default DTMFEvents.
	Out DTMFOut
	// OnDigit, when set, receives every digit once (redundant and
	// repeated end packets do not repeat it), with its duration and
	// method. It runs on the goroutine driving the pipeline and must not
	// block.
	OnDigit func(key byte, dur time.Duration, method string)
}

// Generated digits: level of the low-group tone (dBm0) and twist (dB);
// telephone-events are written by rfc4733.Emitter (volume 10, three end
// packets).
const (
	toneLevel   = -7.0
	toneTwist   = 2.0
	convMax     = time.Minute // longest event converted to a tone
	playMin     = 40 * time.Millisecond
	playMax     = 8 * time.Second
	injectQueue = 16
)

type injected struct {
	key byte
	dur time.Duration
}

// digits is the DTMF state of a pipeline.
type digits struct {
	cfg    DTMF
	rx     *rfc4733.Receiver
	det    *dtmf.Detector
	rxOut  []rfc4733.Digit
	detOut []dtmf.Event
	inject chan injected

	// a received event converted to tones (Out tones)
	conv      bool
	convTS    uint32
	convDone  uint32 // event duration already rendered (input clock)
	convEnded bool
	convGen   *dtmf.Generator
	afterEv   bool // the input timeline ends with an event: older audio is dropped

	// telephone-events written instead of audio frames (Out events)
	em rfc4733.Emitter

	// a tone written over the outgoing audio (played digit, Out tones)
	gen     *dtmf.Generator
	genLeft int
}

// setupDTMF prepares digit processing; called by New.
func (p *Pipeline) setupDTMF() error {
	c := p.cfg.DTMF
	if c == nil {
		return nil
	}
	if c.Out > DTMFDrop {
		return fmt.Errorf("%w: DTMF out %v", ErrConfig, c.Out)
	}
	d := &digits{cfg: *c, inject: make(chan injected, injectQueue),
		rxOut: make([]rfc4733.Digit, 0, 4), detOut: make([]dtmf.Event, 0, 4)}
	if d.cfg.Out == DTMFEvents && p.cfg.OutEventPT == 0 {
		d.cfg.Out = DTMFTones
	}
	var err error
	if p.cfg.InEventPT != 0 {
		if d.rx, err = rfc4733.NewReceiver(rfc4733.ReceiverConfig{}); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if c.Detect {
		if p.decRate != 8000 && p.decRate != 16000 {
			return fmt.Errorf("%w: in-band detection at %d Hz", ErrConfig, p.decRate)
		}
		if d.det, err = dtmf.NewDetector(p.decRate, dtmf.DetectorConfig{}); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	p.dtmf = d
	return nil
}

// DTMFOut returns how the pipeline sends digits (DTMFDrop without
// Config.DTMF).
func (p *Pipeline) DTMFOut() DTMFOut {
	if p.dtmf == nil {
		return DTMFDrop
	}
	return p.dtmf.cfg.Out
}

// PlayDigit queues key ('0'-'9', '*', '#', 'A'-'D') to be sent to the
// receiving peer for dur (40 ms to 8 s; 0 means 100 ms), as
// telephone-events or as a tone over the outgoing audio. It is safe from
// any goroutine and never blocks; the digit goes out with the next
// outgoing frames. A pipeline without Config.DTMF, or with DTMFDrop,
// refuses it.
func (p *Pipeline) PlayDigit(key byte, dur time.Duration) error {
	d := p.dtmf
	if d == nil || d.cfg.Out == DTMFDrop {
		return fmt.Errorf("%w: no digits towards this peer", ErrConfig)
	}
	if c, err := rfc4733.Code(key); err != nil || c > rfc4733.MaxDTMF {
		return fmt.Errorf("%w: digit %q", ErrConfig, key)
	}
	if dur == 0 {
		dur = 100 * time.Millisecond
	}
	dur = min(max(dur, playMin), playMax)
	select {
	case d.inject <- injected{key: key, dur: dur}:
		return nil
	default:
		return fmt.Errorf("%w: too many digits queued", ErrConfig)
	}
}

func (p *Pipeline) report(key byte, dur time.Duration, method string) {
	p.st.digits.Add(1)
	if f := p.dtmf.cfg.OnDigit; f != nil {
		f(key, dur, method)
	}
}

// expireEvents reports a received event whose end packets were lost.
func (p *Pipeline) expireEvents() {
	d := p.dtmf
	if d == nil || d.rx == nil {
		return
	}
	if _, ok := d.rx.Active(); !ok {
		return
	}
	d.rxOut = d.rx.Expire(d.rxOut[:0], time.Now())
	p.reportEvents()
}

func (p *Pipeline) reportEvents() {
	for _, dg := range p.dtmf.rxOut {
		if key, err := rfc4733.Key(dg.Code); err == nil && dg.Code <= rfc4733.MaxDTMF {
			p.report(key, dg.DurationTime(p.inClock), MethodRFC4733)
		}
	}
}

// dtmfEvent handles a received telephone-event packet when the pipeline
// has DTMF processing: report the digit once, then pass, convert or drop.
func (p *Pipeline) dtmfEvent(h *rtpHeader) error {
	d := p.dtmf
	if d.rx != nil {
		var err error
		d.rxOut, err = d.rx.Push(d.rxOut[:0], time.Now(), h.ts, h.marker, h.seq, h.payload)
		if err == nil {
			p.reportEvents()
		}
	}
	switch d.cfg.Out {
	case DTMFEvents:
		return p.event(h)
	case DTMFTones:
		p.convert(h)
		return nil
	}
	p.st.ignored.Add(1)
	return nil
}

// convert renders the part of a received event that grew since its last
// packet as a tone into the outgoing audio, on the input timeline (audio
// the peer sends during the event is dropped).
func (p *Pipeline) convert(h *rtpHeader) {
	d := p.dtmf
	ev, err := rfc4733.Parse(h.payload)
	if err != nil || ev.Code > rfc4733.MaxDTMF {
		p.st.ignored.Add(1)
		return
	}
	if !d.conv || h.ts != d.convTS {
		if d.conv && int32(h.ts-d.convTS) < 0 {
			p.st.late.Add(1) // a late packet of an older event
			return
		}
		key, _ := rfc4733.Key(ev.Code)
		g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Rate: p.encRate, Level: toneLevel, Twist: toneTwist, On: convMax})
		if err != nil || g.Play(string(key)) != nil {
			p.st.errors.Add(1)
			return
		}
		if p.haveLast {
			if gap := int32(h.ts - (p.lastTS + p.lastDur)); gap > 0 {
				p.padFrame()
				p.ts += uint32(int64(gap) * int64(p.outClock) / int64(p.inClock))
				p.marker = true
			}
		}
		d.conv, d.convTS, d.convDone, d.convEnded, d.convGen = true, h.ts, 0, false, g
		p.anchorIn = h.ts
		p.anchorOut = p.ts + uint32(int64(p.fifoN)*int64(p.outClock)/int64(p.encRate))
	}
	if d.convEnded {
		return // redundant end packets
	}
	if dur := uint32(ev.Duration); dur > d.convDone {
		from := int(int64(d.convDone) * int64(p.encRate) / int64(p.inClock))
		to := int(int64(dur) * int64(p.encRate) / int64(p.inClock))
		for n := to - from; n > 0; {
			k := min(n, maxFrame, fifoSize-p.fifoN)
			d.convGen.Read(p.fifo[p.fifoN : p.fifoN+k])
			p.fifoN += k
			n -= k
			p.encodeFrames()
		}
		d.convDone = dur
	}
	p.haveLast, p.lastTS, p.lastDur = true, d.convTS, d.convDone
	d.afterEv = true
	if ev.End {
		d.convEnded, d.convGen = true, nil
	}
}

// overlapsEvent reports whether an audio packet falls inside the time a
// converted event already filled.
func (p *Pipeline) overlapsEvent(ts uint32) bool {
	d := p.dtmf
	if d == nil || !d.afterEv {
		return false
	}
	if p.haveLast && int32(ts-(p.lastTS+p.lastDur)) < 0 {
		return true
	}
	d.afterEv = false
	return false
}

// detect runs the in-band detector on decoded audio.
func (p *Pipeline) detect(pcm []int16) {
	d := p.dtmf
	if d == nil || d.det == nil {
		return
	}
	d.detOut = d.det.Process(d.detOut[:0], pcm)
	for _, ev := range d.detOut {
		switch ev.Kind {
		case dtmf.Start:
			if d.cfg.Out == DTMFEvents && !d.em.Active() {
				if code, err := rfc4733.Code(ev.Key); err == nil {
					d.em.Start(code, p.anchorOut, 0)
				}
			}
		case dtmf.End:
			p.report(ev.Key, d.det.Duration(ev.Duration), MethodInband)
			d.em.End()
		}
	}
}

// frame gives the DTMF stage a frame of outgoing PCM before it is
// encoded. It reports true when the frame was replaced by a
// telephone-event packet (already sent).
func (p *Pipeline) frameDTMF(pcm []int16) bool {
	d := p.dtmf
	if d == nil {
		return false
	}
	if !d.em.Active() && d.gen == nil && d.cfg.Out != DTMFDrop {
		select {
		case in := <-d.inject:
			p.startPlay(in)
		default:
		}
	}
	if d.em.Active() {
		p.emitEvent()
		return true
	}
	if d.gen != nil {
		d.gen.Read(pcm)
		if d.genLeft -= len(pcm); d.genLeft <= 0 {
			d.gen = nil
		}
	}
	return false
}

func (p *Pipeline) startPlay(in injected) {
	d := p.dtmf
	if d.cfg.Out == DTMFEvents {
		code, _ := rfc4733.Code(in.key)
		d.em.Start(code, p.ts, uint32(int64(in.dur)*int64(p.outClock)/int64(time.Second)))
		return
	}
	g, err := dtmf.NewGenerator(dtmf.GeneratorConfig{Rate: p.encRate, Level: toneLevel, Twist: toneTwist, On: in.dur})
	if err != nil || g.Play(string(in.key)) != nil {
		p.st.errors.Add(1)
		return
	}
	d.gen, d.genLeft = g, int(int64(in.dur)*int64(p.encRate)/int64(time.Second))
}

// emitEvent sends the next telephone-event packet of the event being
// written in place of one outgoing audio frame.
func (p *Pipeline) emitEvent() {
	d := p.dtmf
	ts, marker := d.em.Next(p.out[12:], p.step)
	p.st.events.Add(1)
	p.send(p.cfg.OutEventPT, marker, ts, rfc4733.PayloadSize)
	if !d.em.Active() {
		p.marker = true // the audio resumes
	}
}
