package dtmf

import "time"

// maxMutes bounds the mute intervals waiting in the delay line.
const maxMutes = 8

// Suppressor removes in-band DTMF from a stream: it runs a Detector and
// delays the audio long enough (Delay) to mute each detected digit from
// its start, including the part heard before the detection. Not safe for
// concurrent use; it does not allocate after construction.
type Suppressor struct {
	det   *Detector
	delay []int16 // ring of len Delay samples
	head  int
	in    int64 // samples consumed
	// Mute intervals [from, to) in input sample positions; to < 0 means
	// the digit is still sounding.
	mutes [maxMutes][2]int64
	n     int
	evs   []Event
}

// NewSuppressor returns a Suppressor for PCM at 8000 or 16000 Hz.
func NewSuppressor(rate int, cfg DetectorConfig) (*Suppressor, error) {
	d, err := NewDetector(rate, cfg)
	if err != nil {
		return nil, err
	}
	return &Suppressor{
		det:   d,
		delay: make([]int16, d.win+2*d.hop),
		evs:   make([]Event, 0, 8),
	}, nil
}

// Delay returns how late the output runs behind the input (40 ms).
func (s *Suppressor) Delay() time.Duration { return s.det.Duration(int64(len(s.delay))) }

// Process detects digits in frame, then replaces frame in place with the
// audio of Delay earlier, silenced where a digit sounded. Detector events
// are appended to dst (their positions refer to the input).
func (s *Suppressor) Process(dst []Event, frame []int16) []Event {
	s.evs = s.det.Process(s.evs[:0], frame)
	guard := int64(s.det.hop)
	for _, e := range s.evs {
		switch e.Kind {
		case Start:
			// The true start lies at most half a window before At.
			s.add(e.At - int64(s.det.win/2) - guard)
		case End:
			if s.n > 0 {
				s.mutes[s.n-1][1] = e.At + int64(s.det.win/2) + guard
			}
		}
	}
	dst = append(dst, s.evs...)
	D := int64(len(s.delay))
	for i, v := range frame {
		out := s.delay[s.head]
		s.delay[s.head] = v
		s.head++
		if s.head == len(s.delay) {
			s.head = 0
		}
		if s.muted(s.in - D) {
			out = 0
		}
		frame[i] = out
		s.in++
	}
	return dst
}

func (s *Suppressor) add(from int64) {
	if s.n == maxMutes {
		copy(s.mutes[:], s.mutes[1:])
		s.n--
	}
	s.mutes[s.n] = [2]int64{from, -1}
	s.n++
}

// muted reports whether the output sample at input position p is muted,
// dropping intervals that are over.
func (s *Suppressor) muted(p int64) bool {
	for s.n > 0 && s.mutes[0][1] >= 0 && s.mutes[0][1] <= p {
		copy(s.mutes[:], s.mutes[1:s.n])
		s.n--
	}
	for i := 0; i < s.n; i++ {
		if p >= s.mutes[i][0] && (s.mutes[i][1] < 0 || p < s.mutes[i][1]) {
			return true
		}
	}
	return false
}
