package rfc4733

import (
	"fmt"
	"time"
)

// Digit is one event reported by the Receiver.
type Digit struct {
	// Code is the event code; Key converts it to a character.
	Code uint8
	// Timestamp is the RTP timestamp of the event's first segment.
	Timestamp uint32
	// Duration is the event length in RTP timestamp units, summed over
	// all segments of a long event.
	Duration uint32
	// Volume is the last volume seen, as -dBm0.
	Volume uint8
	// Ended is true when an end packet was seen; false when the event was
	// closed by a newer event, by the timeout or by Flush.
	Ended bool
}

// DurationTime converts Duration to time at the given RTP clock rate.
func (d Digit) DurationTime(clockRate int) time.Duration {
	if clockRate <= 0 {
		return 0
	}
	return time.Duration(int64(d.Duration) * int64(time.Second) / int64(clockRate))
}

// ReceiverConfig configures a Receiver. The zero value is valid.
type ReceiverConfig struct {
	// Timeout closes an event that received no packet for this long (its
	// end packets were lost). Default 200 ms; must be positive.
	Timeout time.Duration
}

func (c *ReceiverConfig) validate() error {
	if c.Timeout < 0 {
		return fmt.Errorf("%w: timeout %v is negative", ErrConfig, c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = 200 * time.Millisecond
	}
	return nil
}

// ReceiverStats counts what the Receiver did with its packets.
type ReceiverStats struct {
	Packets   uint64 // packets pushed
	Malformed uint64 // payloads that did not parse
	Stale     uint64 // packets of an already reported or older event, ignored
	Digits    uint64 // digits reported
	LostEnd   uint64 // digits reported without an end packet
}

// segmentFull is the duration from which a segment counts as full, so that
// a newer timestamp with the same code may continue the event (senders
// split at 0xFFFF, or at the last update that fits).
const segmentFull = MaxDuration - 4096

// Receiver turns telephone-event packets of one RTP stream into digits.
// Each event is reported exactly once. It is not safe for concurrent use;
// one stream owns one Receiver.
//
// Rules (RFC 4733 section 2.5.2):
//   - the RTP timestamp identifies an event: a newer timestamp starts a new
//     event whether or not the marker bit is set (the start may be lost);
//   - an end packet reports the event; its redundant copies and any later
//     packet with that timestamp are ignored;
//   - a new event, the timeout or Flush reports an event whose end packets
//     were lost, with the largest duration seen;
//   - packets with a timestamp older than the current event are late and
//     ignored (serial arithmetic, so the 32-bit wrap is handled);
//   - a segment of a long event continues it: same code, no marker, the
//     previous segment's duration within segmentFull of 0xFFFF and the new
//     timestamp no further than 0xFFFF and no nearer than that duration.
type Receiver struct {
	cfg ReceiverConfig

	have      bool   // an event (active or reported) is being tracked
	reported  bool   // the tracked event has been reported
	code      uint8  // tracked event code
	volume    uint8  // last volume
	firstTS   uint32 // timestamp of the first segment
	segTS     uint32 // timestamp of the current segment
	before    uint32 // duration of the completed segments
	segDur    uint16 // largest duration seen in the current segment
	lastSeq   uint16 // highest sequence number seen for the tracked event
	lastHeard time.Time

	stats ReceiverStats
}

// NewReceiver returns a Receiver, or ErrConfig.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Receiver{cfg: cfg}, nil
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats { return r.stats }

// Active reports the event in progress (not yet reported), if any, with
// its duration so far.
func (r *Receiver) Active() (Digit, bool) {
	if !r.have || r.reported {
		return Digit{}, false
	}
	return r.digit(false), true
}

func (r *Receiver) digit(ended bool) Digit {
	return Digit{
		Code:      r.code,
		Timestamp: r.firstTS,
		Duration:  r.before + uint32(r.segDur),
		Volume:    r.volume,
		Ended:     ended,
	}
}

// report closes the tracked event and appends it to dst.
func (r *Receiver) report(dst []Digit, ended bool) []Digit {
	r.reported = true
	r.stats.Digits++
	if !ended {
		r.stats.LostEnd++
	}
	return append(dst, r.digit(ended))
}

// Push handles one telephone-event packet received at now: its RTP
// timestamp, marker bit, sequence number and payload (the first 4-byte
// block is used; for RFC 2198 payloads push each block, see
// ParseRedundant). Reported digits are appended to dst, at most two per
// call (an event whose end was lost, then a new event that is already
// over). A malformed payload returns an error and changes nothing.
func (r *Receiver) Push(dst []Digit, now time.Time, ts uint32, marker bool, seq uint16, payload []byte) ([]Digit, error) {
	r.stats.Packets++
	ev, err := Parse(payload)
	if err != nil {
		r.stats.Malformed++
		return dst, err
	}
	// After a long silence the old event tells nothing about the order of
	// new packets: forget it so serial arithmetic cannot misjudge them.
	if r.have && r.reported && now.Sub(r.lastHeard) > r.cfg.Timeout {
		r.have = false
	}
	if !r.have {
		r.start(now, ts, seq, ev)
		if ev.End {
			dst = r.report(dst, true)
		}
		return dst, nil
	}

	switch d := int32(ts - r.segTS); {
	case d < 0:
		// Late: an earlier event, or an earlier segment of this one.
		r.stats.Stale++
		return dst, nil
	case d == 0:
		if r.reported || ev.Code != r.code {
			r.stats.Stale++
			return dst, nil
		}
		r.lastHeard = now
		if int16(seq-r.lastSeq) > 0 {
			r.lastSeq = seq
			r.volume = ev.Volume
		}
		if ev.Duration > r.segDur {
			r.segDur = ev.Duration
		}
		if ev.End {
			dst = r.report(dst, true)
		}
		return dst, nil
	default:
		if !r.reported && !marker && ev.Code == r.code && d <= MaxDuration &&
			r.segDur >= segmentFull && uint16(d) >= r.segDur {
			// Next segment of a long event: the previous segment had (nearly)
			// filled the duration field and this one starts where it ended.
			r.before += uint32(d)
			r.segTS = ts
			r.segDur = ev.Duration
			r.lastSeq = seq
			r.lastHeard = now
			r.volume = ev.Volume
			if ev.End {
				dst = r.report(dst, true)
			}
			return dst, nil
		}
		if !r.reported {
			dst = r.report(dst, false)
		}
		r.start(now, ts, seq, ev)
		if ev.End {
			dst = r.report(dst, true)
		}
		return dst, nil
	}
}

func (r *Receiver) start(now time.Time, ts uint32, seq uint16, ev Event) {
	r.have = true
	r.reported = false
	r.code = ev.Code
	r.volume = ev.Volume
	r.firstTS = ts
	r.segTS = ts
	r.before = 0
	r.segDur = ev.Duration
	r.lastSeq = seq
	r.lastHeard = now
}

// Expire reports the event in progress if no packet arrived for the
// configured timeout before now. Call it from the stream's timer.
func (r *Receiver) Expire(dst []Digit, now time.Time) []Digit {
	if r.have && !r.reported && now.Sub(r.lastHeard) > r.cfg.Timeout {
		dst = r.report(dst, false)
	}
	return dst
}

// Flush reports the event in progress, if any (end of stream).
func (r *Receiver) Flush(dst []Digit) []Digit {
	if r.have && !r.reported {
		dst = r.report(dst, false)
	}
	return dst
}
