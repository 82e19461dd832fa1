package conference

import (
	"sync"
	"sync/atomic"
	"time"
)

// talkLevel is the mean absolute sample value above which a frame counts
// as speech (about -40 dBFS) for ParticipantInfo.Talking.
const talkLevel = 300

// room is one conference: its participants and its mixing clock.
type room struct {
	name    string
	created time.Time

	mu    sync.Mutex
	parts []*Participant
	sum   [Frame]int32
	bell  player // join and leave tones, heard by everyone

	quit, done chan struct{}

	ticks, overruns atomic.Uint64
	maxTick         atomic.Int64
}

func newRoom(name string) *room {
	return &room{name: name, created: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
}

// run is the room's mixing clock: one tick every 20 ms until quit.
func (r *room) run() {
	defer close(r.done)
	t := time.NewTicker(FrameTime)
	defer t.Stop()
	for {
		select {
		case <-r.quit:
			return
		case <-t.C:
		}
		start := time.Now()
		r.tick()
		d := time.Since(start)
		if d > FrameTime {
			r.overruns.Add(1)
		}
		if int64(d) > r.maxTick.Load() {
			r.maxTick.Store(int64(d))
		}
		r.ticks.Add(1)
	}
}

// tick mixes one 20 ms frame for every participant.
func (r *room) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.sum[:])
	for _, p := range r.parts {
		p.active = p.fill()
		talking := false
		if p.active {
			var lvl int
			for _, v := range p.in[:Frame] {
				lvl += int(max(v, -v))
			}
			talking = lvl > talkLevel*Frame
		}
		if p.active && p.muted.Load() {
			p.active, talking = false, false
		}
		p.talking.Store(talking)
		if p.active {
			s := r.sum[:]
			for i, v := range p.in[:Frame] {
				s[i] += int32(v)
			}
		}
	}
	if t := r.bell.next(); t != nil {
		for i, v := range t {
			r.sum[i] += int32(v)
		}
	}
	now := time.Now()
	for _, p := range r.parts {
		p.mu.Lock()
		if p.beepReq != beepNone {
			p.beep.start(p.beepReq)
			p.beepReq = beepNone
		}
		p.mu.Unlock()
		p.mixFor(&r.sum)
		p.send()
		p.report(now)
		p.consume()
	}
}

// fill makes sure one frame of decoded input is ready in p.in; false when
// the participant has nothing to play (silent, absent or prefilling).
func (p *Participant) fill() bool {
	for p.inN < Frame {
		p.mu.Lock()
		n, st := p.jb.take(p.pay[:])
		p.mu.Unlock()
		switch st {
		case jbEmpty:
			if p.inN == 0 {
				return false
			}
			clear(p.in[p.inN:Frame])
			p.inN = Frame
		case jbGot:
			k, err := p.dec.decode(p.pay[:n], p.in[p.inN:])
			if err != nil {
				p.errors.Add(1)
				continue
			}
			p.inN += k
			p.lastN = k
		case jbLost:
			k := p.lastN
			if k == 0 || k > len(p.in)-p.inN {
				k = Frame
			}
			p.dec.conceal(p.in[p.inN : p.inN+k])
			p.inN += k
			p.concealed.Add(1)
		}
	}
	return true
}

// consume drops the frame just mixed from the input.
func (p *Participant) consume() {
	if p.inN < Frame {
		return
	}
	copy(p.in[:], p.in[Frame:p.inN])
	p.inN -= Frame
}

// mixFor writes p's N-1 mix: the sum without p's own frame, plus its
// private tone, saturated to 16 bits.
func (p *Participant) mixFor(sum *[Frame]int32) {
	own := p.in[:Frame]
	t := p.beep.next()
	for i := range p.mix {
		v := sum[i]
		if p.active {
			v -= int32(own[i])
		}
		if i < len(t) {
			v += int32(t[i])
		}
		p.mix[i] = sat16(v)
	}
}

func sat16(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}

// send queues the mix and sends every whole packet of p's ptime.
func (p *Participant) send() {
	p.outN += copy(p.out[p.outN:], p.mix[:])
	for p.outN >= p.pframe {
		n, err := p.enc.encode(p.out[:p.pframe], p.pkt[12:])
		if err == nil && n > 0 {
			b := p.pkt[:12+n]
			b[0] = 0x80
			b[1] = p.cfg.PT
			if p.marker {
				b[1] |= 0x80
				p.marker = false
			}
			putU16(b[2:], p.seq)
			putU32(b[4:], p.ts)
			putU32(b[8:], p.ssrc)
			p.cfg.Output(b)
			p.sentPackets++
			p.sentOctets += uint32(n)
			p.seq++
			p.out1.Add(1)
			p.bytes1.Add(uint64(len(b)))
		} else if err != nil {
			p.errors.Add(1)
		}
		p.ts += p.step
		copy(p.out[:], p.out[p.pframe:p.outN])
		p.outN -= p.pframe
	}
}

func putU16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
