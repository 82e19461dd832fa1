package rfc4733

import (
	"fmt"
	"time"
)

// Packet is one telephone-event packet produced by the Sender. The caller
// adds the RTP header: sequence numbers increase by one per packet, the
// timestamp and marker bit are given here.
type Packet struct {
	// Timestamp is the RTP timestamp: the start of the event segment.
	Timestamp uint32
	// Marker is the RTP marker bit, set on the first packet of an event.
	Marker bool
	// Event is the payload.
	Event Event
}

// SenderConfig configures a Sender. The zero value is valid.
type SenderConfig struct {
	// ClockRate is the RTP clock rate of the telephone-event payload.
	// Default 8000.
	ClockRate int
	// Interval is the time between update packets (usually the audio
	// ptime). Default 20 ms; at least 1 timestamp unit, at most 1 s.
	Interval time.Duration
	// Volume is the volume field, as -dBm0 (0..63). Default 10.
	Volume uint8
	// EndRepeats is how many end packets close an event. Default 3
	// (RFC 4733 section 2.5.1.4).
	EndRepeats int
}

func (c *SenderConfig) validate() error {
	if c.ClockRate == 0 {
		c.ClockRate = 8000
	}
	if c.Interval == 0 {
		c.Interval = 20 * time.Millisecond
	}
	if c.Volume == 0 {
		c.Volume = 10
	}
	if c.EndRepeats == 0 {
		c.EndRepeats = 3
	}
	switch {
	case c.ClockRate < 1000 || c.ClockRate > 192000:
		return fmt.Errorf("%w: clock rate %d Hz", ErrConfig, c.ClockRate)
	case c.Interval < 0 || c.Interval > time.Second:
		return fmt.Errorf("%w: interval %v", ErrConfig, c.Interval)
	case c.Volume > MaxVolume:
		return fmt.Errorf("%w: volume %d above %d", ErrConfig, c.Volume, MaxVolume)
	case c.EndRepeats < 1 || c.EndRepeats > 10:
		return fmt.Errorf("%w: %d end repeats, want 1..10", ErrConfig, c.EndRepeats)
	}
	if c.step() == 0 {
		return fmt.Errorf("%w: interval %v is below one timestamp unit", ErrConfig, c.Interval)
	}
	return nil
}

func (c *SenderConfig) step() uint32 {
	return uint32(int64(c.Interval) * int64(c.ClockRate) / int64(time.Second))
}

// Sender produces the packets of one event at a time for one RTP stream.
// Use Start, then Update once per interval while the key is held, then
// Stop; or Digit for an event of known length. It does not allocate when
// dst has room. Not safe for concurrent use.
type Sender struct {
	cfg    SenderConfig
	step   uint32
	active bool
	code   uint8
	segTS  uint32
	segDur uint32 // duration within the current segment
}

// NewSender returns a Sender, or ErrConfig.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Sender{cfg: cfg, step: cfg.step()}, nil
}

// Step returns the duration added per Update, in timestamp units.
func (s *Sender) Step() uint32 { return s.step }

// Active reports whether an event is in progress.
func (s *Sender) Active() bool { return s.active }

// Start begins event code at RTP timestamp ts and returns its first
// packet (marker set, duration one interval).
func (s *Sender) Start(code uint8, ts uint32) (Packet, error) {
	if s.active {
		return Packet{}, fmt.Errorf("%w: event %d still active", ErrState, s.code)
	}
	s.active = true
	s.code = code
	s.segTS = ts
	s.segDur = s.step
	p := s.packet(false)
	p.Marker = true
	return p, nil
}

func (s *Sender) packet(end bool) Packet {
	d := s.segDur
	if d > MaxDuration {
		d = MaxDuration
	}
	return Packet{
		Timestamp: s.segTS,
		Event:     Event{Code: s.code, End: end, Volume: s.cfg.Volume, Duration: uint16(d)},
	}
}

// Update advances the event by one interval and returns the packet to
// send. When the duration field would overflow, the packet closes the
// segment with duration 0xFFFF and the event continues in a new segment
// whose timestamp is 0xFFFF later (RFC 4733 section 2.5.1.3).
func (s *Sender) Update() (Packet, error) {
	if !s.active {
		return Packet{}, fmt.Errorf("%w: update without start", ErrState)
	}
	s.segDur += s.step
	if s.segDur >= MaxDuration {
		p := s.packet(false) // duration clamps to 0xFFFF
		s.segTS += MaxDuration
		s.segDur -= MaxDuration
		return p, nil
	}
	return s.packet(false), nil
}

// Stop ends the event and appends its end packets (EndRepeats copies,
// same timestamp and duration) to dst.
func (s *Sender) Stop(dst []Packet) ([]Packet, error) {
	if !s.active {
		return dst, fmt.Errorf("%w: stop without start", ErrState)
	}
	s.active = false
	p := s.packet(true)
	for i := 0; i < s.cfg.EndRepeats; i++ {
		dst = append(dst, p)
	}
	return dst, nil
}

// Digit appends the whole packet sequence of an event of code lasting
// duration timestamp units (at least one interval), starting at ts: the
// start packet, one update per interval, and the end packets carrying the
// exact duration.
func (s *Sender) Digit(dst []Packet, code uint8, ts uint32, duration uint32) ([]Packet, error) {
	if duration < s.step {
		return dst, fmt.Errorf("%w: duration %d below one interval (%d)", ErrBadEvent, duration, s.step)
	}
	p, err := s.Start(code, ts)
	if err != nil {
		return dst, err
	}
	dst = append(dst, p)
	for elapsed := s.step; elapsed+s.step <= duration; elapsed += s.step {
		p, _ = s.Update() // active: cannot fail
		dst = append(dst, p)
	}
	// The end packets carry the exact remaining duration of the segment.
	s.segDur = uint32(uint64(duration) % MaxDuration)
	if uint64(duration) >= MaxDuration {
		// Match the segment the updates reached.
		segs := (uint64(duration)) / MaxDuration
		s.segTS = ts + uint32(segs*MaxDuration)
	}
	return s.Stop(dst)
}
