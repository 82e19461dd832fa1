package rfc4733

// Emitter writes one event at a time into an existing RTP stream, one
// telephone-event packet in place of each packet of the stream that it
// replaces: a relay or transcoder turning a detected or played digit into
// events on the fly. Unlike Sender it keeps no interval of its own: each
// Next advances the event by the duration of the packet it replaces. An
// event of known length ends by itself; an open one ends after End. The
// end packet goes out three times (RFC 4733 section 2.5.1.4), one per
// replaced packet. The zero value is an idle Emitter; it does not
// allocate. Not safe for concurrent use.
type Emitter struct {
	active, first bool
	code          uint8
	ts            uint32
	dur, target   uint32 // target 0: until End
	ends          int    // end packets still to send; 0 while the event runs
}

// emitterEndRepeats and emitterVolume are the end packets per event and
// the volume field (-dBm0) of emitted events.
const (
	emitterEndRepeats = 3
	emitterVolume     = 10
)

// Start begins event code at RTP timestamp ts, lasting target timestamp
// units (0: until End), replacing any event in progress.
func (e *Emitter) Start(code uint8, ts, target uint32) {
	*e = Emitter{active: true, first: true, code: code, ts: ts, target: target}
}

// Active reports whether an event is being emitted (its end packets
// included).
func (e *Emitter) Active() bool { return e.active }

// End ends an open event (started with target 0): the next packets are
// its end packets. It does nothing to an event of known length or one
// already ending.
func (e *Emitter) End() {
	if e.active && e.target == 0 && e.ends == 0 {
		e.ends = emitterEndRepeats
	}
}

// Next writes into dst (at least PayloadSize bytes) the event packet that
// replaces a stream packet of step timestamp units, and returns the RTP
// timestamp and marker bit the packet carries. The event must be active.
func (e *Emitter) Next(dst []byte, step uint32) (ts uint32, marker bool) {
	if e.ends == 0 {
		e.dur += step
		if e.target > 0 && e.dur >= e.target {
			e.dur, e.ends = e.target, emitterEndRepeats
		}
	}
	end := e.ends > 0
	ev := Event{Code: e.code, End: end, Volume: emitterVolume, Duration: uint16(min(e.dur, MaxDuration))}
	_ = ev.Put(dst)
	marker, e.first = e.first, false
	if end {
		if e.ends--; e.ends == 0 {
			e.active = false
		}
	}
	return e.ts, marker
}
