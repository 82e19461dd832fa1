package conference

// jbSlots is the input buffer's capacity in packets (a power of 2).
const jbSlots = 16

// jbSlack is how many packets beyond the configured depth the buffer may
// hold before the oldest are dropped (a sender whose clock runs fast, or
// a burst after a network stall).
const jbSlack = 4

// take results.
const (
	jbEmpty = iota // nothing to play: silence (and prefill again)
	jbGot          // a payload was copied out
	jbLost         // the expected packet is missing: conceal it
)

type jslot struct {
	used bool
	seq  uint16
	n    int
	data [maxPayload]byte
}

// jitter is a participant's input buffer: packets ordered by sequence
// number and released one per take. Playout starts once depth packets
// are held; when the buffer runs dry (the talker went silent, DTX, or a
// long loss) it stops and waits for depth packets again. It never
// allocates. Not safe for concurrent use (Participant guards it).
type jitter struct {
	depth   int
	started bool // next and ssrc are valid
	playing bool
	next    uint16
	ssrc    uint32
	held    int
	late    uint64
	dropped uint64
	slots   [jbSlots]jslot
}

func (j *jitter) reset(seq uint16, ssrc uint32) {
	for i := range j.slots {
		j.slots[i].used = false
	}
	j.held, j.playing, j.started, j.next, j.ssrc = 0, false, true, seq, ssrc
}

// put stores a payload. A new SSRC or a jump of more than the buffer
// holds restarts the buffer at seq; late and duplicate packets are
// counted and dropped.
func (j *jitter) put(seq uint16, ssrc uint32, payload []byte) {
	if !j.started || ssrc != j.ssrc {
		j.reset(seq, ssrc)
	}
	d := int16(seq - j.next)
	switch {
	case d < 0 && d > -jbSlots*4:
		j.late++
		return
	case d < 0 || d >= jbSlots:
		j.reset(seq, ssrc)
	}
	s := &j.slots[seq%jbSlots]
	if s.used {
		j.late++
		return
	}
	s.used, s.seq = true, seq
	s.n = copy(s.data[:], payload)
	j.held++
}

// take releases the next packet's payload into dst.
func (j *jitter) take(dst []byte) (int, int) {
	if !j.playing {
		if j.held < j.depth {
			return 0, jbEmpty
		}
		j.playing = true
		j.skipToOldest()
	}
	if j.held == 0 {
		j.playing = false
		return 0, jbEmpty
	}
	for j.held > j.depth+jbSlack {
		if s := &j.slots[j.next%jbSlots]; s.used && s.seq == j.next {
			s.used = false
			j.held--
			j.dropped++
		}
		j.next++
	}
	s := &j.slots[j.next%jbSlots]
	j.next++
	if !s.used || s.seq != j.next-1 {
		return 0, jbLost
	}
	s.used = false
	j.held--
	return copy(dst, s.data[:s.n]), jbGot
}

// skipToOldest moves next to the oldest packet held (packets that came
// out of order before playout started).
func (j *jitter) skipToOldest() {
	for range jbSlots {
		if s := &j.slots[j.next%jbSlots]; s.used && s.seq == j.next {
			return
		}
		j.next++
	}
}
