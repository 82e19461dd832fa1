package conference

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openborder/openborder/codecs/rfc4733"
)

// ParticipantConfig describes one participant's media.
type ParticipantConfig struct {
	// ID names the participant in its room (sbcd uses the call ID). Required.
	ID string
	// Codec is pcmu, pcma, g722 or opus (case-insensitive). Required.
	Codec string
	// PT is the codec's RTP payload type, both ways.
	PT uint8
	// EventPT is the telephone-event payload type (RFC 4733) the
	// participant sends DTMF with; 0: none (no DTMF mute).
	EventPT uint8
	// Ptime is the duration of each packet sent: 10, 20, 30, 40 or 60 ms
	// (Opus: 10, 20, 40 or 60). Default 20 ms.
	Ptime time.Duration
	// Output receives each RTP packet to send to the participant, on the
	// room's goroutine, in a buffer reused after it returns. Required.
	Output func(pkt []byte)
	// OutputRTCP, when set, receives an RTCP sender report about the
	// stream sent to the participant (with a report block about the one
	// it sends) a second after the join and every 5 s after, on the
	// room's goroutine. Default nil: no reports.
	OutputRTCP func(pkt []byte)
}

func (c *ParticipantConfig) normalise() error {
	c.Codec = strings.ToLower(c.Codec)
	if c.ID == "" || c.Output == nil {
		return fmt.Errorf("%w: participant needs an ID and an Output", ErrConfig)
	}
	if !Supported(c.Codec) {
		return fmt.Errorf("%w: %q", ErrCodec, c.Codec)
	}
	if c.PT > 127 || c.EventPT > 127 {
		return fmt.Errorf("%w: payload type above 127", ErrConfig)
	}
	if c.Ptime == 0 {
		c.Ptime = FrameTime
	}
	if !validPtime(c.Codec, c.Ptime) {
		return fmt.Errorf("%w: ptime %v for %s", ErrConfig, c.Ptime, c.Codec)
	}
	return nil
}

// ParticipantStats counts what one participant sent and received.
type ParticipantStats struct {
	// PacketsIn counts RTP packets of its codec received; PacketsOut and
	// BytesOut the packets sent to it.
	PacketsIn, PacketsOut, BytesOut uint64
	// Concealed counts lost packets replaced by concealment; Late late or
	// duplicate packets; Dropped packets dropped to keep the buffer
	// short; Errors malformed or undecodable packets; Ignored packets of
	// other payload types.
	Concealed, Late, Dropped, Errors, Ignored uint64
	// Digits counts DTMF digits received.
	Digits uint64
}

// Participant is one member of a room. Push and SetMuted may be called
// from any goroutine; the rest of its state belongs to the room.
type Participant struct {
	cfg    ParticipantConfig
	room   *room
	joined time.Time

	muted   atomic.Bool
	talking atomic.Bool

	// Input, guarded by mu (Push versus the mixing clock).
	mu       sync.Mutex
	jb       jitter
	ev       *rfc4733.Receiver
	digs     [4]rfc4733.Digit
	star     time.Time // when '*' of the mute code was pressed
	muteCode [2]byte
	beepReq  int // beepMute or beepUnmute to play to p; 0 none

	// Mixing state, used by the room's goroutine only.
	dec    decoder
	enc    encoder
	pay    [maxPayload]byte
	in     [inSize]int16
	inN    int
	lastN  int // samples the last decoded packet gave
	active bool
	mix    [Frame]int16
	out    [outSize]int16
	outN   int
	pframe int    // samples at Rate per packet sent
	beep   player // tones for this participant alone

	// Output RTP state.
	ssrc   uint32
	seq    uint16
	ts     uint32
	step   uint32
	marker bool
	pkt    [pktSize]byte

	// RTCP: what p sends (p.mu) and what it was sent (the room's goroutine).
	rx          rxStats
	sentPackets uint32
	sentOctets  uint32
	nextSR      time.Time
	sr          [srSize]byte

	in1, out1, bytes1, concealed, errors, ignored, digits atomic.Uint64
}

func newParticipant(cfg ParticipantConfig, bc *Config) (*Participant, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	p := &Participant{cfg: cfg, joined: time.Now(), marker: true}
	p.nextSR = p.joined.Add(srFirst)
	var err error
	if p.dec, err = newDecoder(cfg.Codec); err != nil {
		return nil, err
	}
	if p.enc, err = newEncoder(cfg.Codec, cfg.Ptime, bc); err != nil {
		return nil, err
	}
	if cfg.EventPT != 0 && len(bc.MuteDigits) == 2 {
		if p.ev, err = rfc4733.NewReceiver(rfc4733.ReceiverConfig{}); err != nil {
			return nil, err
		}
		p.muteCode = [2]byte{bc.MuteDigits[0], bc.MuteDigits[1]}
	}
	p.jb.depth = bc.Depth
	p.pframe = int(int64(Rate) * int64(cfg.Ptime) / int64(time.Second))
	p.step = uint32(int64(clockRate(cfg.Codec)) * int64(cfg.Ptime) / int64(time.Second))
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	p.seq = binary.BigEndian.Uint16(rnd[0:])
	p.ts = binary.BigEndian.Uint32(rnd[2:])
	p.ssrc = binary.BigEndian.Uint32(rnd[6:])
	return p, nil
}

// ID returns the participant's ID.
func (p *Participant) ID() string { return p.cfg.ID }

// SSRC returns the SSRC of the stream sent to the participant.
func (p *Participant) SSRC() uint32 { return p.ssrc }

// Muted reports whether the participant is muted.
func (p *Participant) Muted() bool { return p.muted.Load() }

// SetMuted mutes or unmutes the participant; it hears a short tone
// confirming a change.
func (p *Participant) SetMuted(m bool) {
	if p.muted.Swap(m) != m {
		p.mu.Lock()
		p.pendingBeep(m)
		p.mu.Unlock()
	}
}

// pendingBeep asks the room to play the mute or unmute tone to p; with
// p.mu held. The room picks it up on its next tick.
func (p *Participant) pendingBeep(muted bool) {
	if muted {
		p.beepReq = beepMute
	} else {
		p.beepReq = beepUnmute
	}
}

// Stats returns the participant's counters.
func (p *Participant) Stats() ParticipantStats {
	p.mu.Lock()
	late, dropped := p.jb.late, p.jb.dropped
	p.mu.Unlock()
	return ParticipantStats{
		PacketsIn: p.in1.Load(), PacketsOut: p.out1.Load(), BytesOut: p.bytes1.Load(),
		Concealed: p.concealed.Load(), Late: late, Dropped: dropped, Errors: p.errors.Load(),
		Ignored: p.ignored.Load(), Digits: p.digits.Load(),
	}
}

// Push takes one RTP packet received from the participant (plain, after
// SRTP). It never blocks on the mixer and does not allocate.
func (p *Participant) Push(pkt []byte) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		p.errors.Add(1)
		return
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			p.errors.Add(1)
			return
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 {
		pad := int(pkt[end-1])
		if pad == 0 {
			p.errors.Add(1)
			return
		}
		end -= pad
	}
	if off > end {
		p.errors.Add(1)
		return
	}
	pt := pkt[1] & 0x7f
	seq := binary.BigEndian.Uint16(pkt[2:])
	ts := binary.BigEndian.Uint32(pkt[4:])
	ssrc := binary.BigEndian.Uint32(pkt[8:])
	payload := pkt[off:end]
	switch {
	case pt == p.cfg.PT:
		if len(payload) == 0 || len(payload) > maxPayload {
			p.errors.Add(1)
			return
		}
		p.in1.Add(1)
		p.mu.Lock()
		p.jb.put(seq, ssrc, payload)
		p.rx.note(seq, ssrc)
		p.mu.Unlock()
	case pt == p.cfg.EventPT && p.ev != nil:
		p.mu.Lock()
		p.event(ts, pkt[1]&0x80 != 0, seq, payload)
		p.mu.Unlock()
	default:
		p.ignored.Add(1)
	}
}

// muteWindow is how long after '*' the second key of the mute code counts.
const muteWindow = 3 * time.Second

// event feeds a telephone-event packet to the digit receiver and toggles
// mute on the mute code. With p.mu held.
func (p *Participant) event(ts uint32, marker bool, seq uint16, payload []byte) {
	now := time.Now()
	digs, err := p.ev.Push(p.digs[:0], now, ts, marker, seq, payload)
	if err != nil {
		p.errors.Add(1)
		return
	}
	for _, d := range digs {
		k, err := rfc4733.Key(d.Code)
		if err != nil {
			continue
		}
		p.digits.Add(1)
		switch {
		case k == p.muteCode[0]:
			p.star = now
		case k == p.muteCode[1] && !p.star.IsZero() && now.Sub(p.star) < muteWindow:
			p.star = time.Time{}
			m := !p.muted.Load()
			p.muted.Store(m)
			p.pendingBeep(m)
		default:
			p.star = time.Time{}
		}
	}
}
