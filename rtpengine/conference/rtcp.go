package conference

import (
	"encoding/binary"
	"time"
)

// Sender reports (RFC 3550 6.4.1): the first srFirst after a participant
// joins, then every srInterval.
const (
	srFirst    = time.Second
	srInterval = 5 * time.Second
	srSize     = 52 // header, sender info and one report block
)

// rxStats follows the stream a participant sends for the report block
// (with p.mu held: Push versus the room's clock).
type rxStats struct {
	have          bool
	ssrc          uint32
	base, max     uint16
	cycles        uint32
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
}

func (s *rxStats) note(seq uint16, ssrc uint32) {
	if !s.have || ssrc != s.ssrc {
		*s = rxStats{have: true, ssrc: ssrc, base: seq, max: seq}
	}
	s.received++
	if d := seq - s.max; d != 0 && d < 0x8000 {
		if seq < s.max {
			s.cycles += 1 << 16
		}
		s.max = seq
	}
}

// appendSR appends a sender report for the stream sent to p, with a
// report block about the stream p sends when there is one. Called by the
// room's goroutine.
func (p *Participant) appendSR(dst []byte, now time.Time) []byte {
	var b [srSize]byte
	p.mu.Lock()
	rx := p.rx
	if rx.have {
		p.rx.expectedPrior = rx.cycles | uint32(rx.max) - uint32(rx.base) + 1
		p.rx.receivedPrior = rx.received
	}
	p.mu.Unlock()
	blocks := 0
	if rx.have {
		blocks = 1
	}
	n := 28 + 24*blocks
	b[0] = 0x80 | byte(blocks)
	b[1] = 200
	binary.BigEndian.PutUint16(b[2:], uint16(n/4-1))
	binary.BigEndian.PutUint32(b[4:], p.ssrc)
	sec := uint64(now.Unix() + 2208988800)
	frac := uint64(now.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint64(b[8:], sec<<32|frac)
	binary.BigEndian.PutUint32(b[16:], p.ts)
	binary.BigEndian.PutUint32(b[20:], p.sentPackets)
	binary.BigEndian.PutUint32(b[24:], p.sentOctets)
	if rx.have {
		r := b[28:]
		ext := rx.cycles | uint32(rx.max)
		expected := ext - uint32(rx.base) + 1
		lost := max(int64(expected)-int64(rx.received), 0)
		de, dr := expected-rx.expectedPrior, rx.received-rx.receivedPrior
		var fraction uint32
		if de > 0 && int64(de) > int64(dr) {
			fraction = min((de-dr)<<8/de, 255)
		}
		binary.BigEndian.PutUint32(r, rx.ssrc)
		binary.BigEndian.PutUint32(r[4:], fraction<<24|uint32(min(lost, 0x7fffff)))
		binary.BigEndian.PutUint32(r[8:], ext)
	}
	return append(dst, b[:n]...)
}

// report sends p a sender report when one is due.
func (p *Participant) report(now time.Time) {
	if p.cfg.OutputRTCP == nil || now.Before(p.nextSR) {
		return
	}
	p.nextSR = now.Add(srInterval)
	p.cfg.OutputRTCP(p.appendSR(p.sr[:0], now))
}
