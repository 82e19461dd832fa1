package transcode

// reorderSlots is the reorder buffer's capacity in packets (a power of 2).
const reorderSlots = 16

// maxPayload bounds one payload kept in the reorder buffer.
const maxPayload = 1500

// slot holds one buffered packet.
type slot struct {
	used   bool
	seq    uint16
	ts     uint32
	marker bool
	event  bool // a telephone-event's sequence number: nothing to play
	n      int
	data   [maxPayload]byte
}

// reorder is a packet-driven jitter buffer: packets in sequence pass at
// once (no added delay); a missing packet is waited for until depth later
// packets have arrived, then declared lost. It never allocates.
type reorder struct {
	depth   int
	started bool
	next    uint16 // sequence number expected next
	held    int    // packets buffered
	slots   [reorderSlots]slot
}

// put stores a packet. It returns false for a late or duplicate packet
// (behind next or already held) and reports a jump too large to buffer
// (the caller flushes and restarts at seq).
func (r *reorder) put(seq uint16, ts uint32, marker bool, payload []byte) (ok, jump bool) {
	if !r.started {
		r.started, r.next = true, seq
	}
	d := int16(seq - r.next)
	if d < 0 {
		return false, false
	}
	if int(d) >= reorderSlots {
		return false, true
	}
	s := &r.slots[seq%reorderSlots]
	if s.used {
		return false, false
	}
	s.used, s.seq, s.ts, s.marker, s.event = true, seq, ts, marker, false
	s.n = copy(s.data[:], payload)
	r.held++
	return true, false
}

// putEvent holds the place of a telephone-event packet, which shares
// the audio's sequence numbers, so that it is not taken for a lost one.
func (r *reorder) putEvent(seq uint16) bool {
	ok, _ := r.put(seq, 0, false, nil)
	if ok {
		r.slots[seq%reorderSlots].event = true
	}
	return ok
}

// head returns the slot of the expected packet, or nil.
func (r *reorder) head() *slot {
	s := &r.slots[r.next%reorderSlots]
	if s.used && s.seq == r.next {
		return s
	}
	return nil
}

// after returns the held packet just after the expected one (for FEC), or nil.
func (r *reorder) after() *slot {
	s := &r.slots[(r.next+1)%reorderSlots]
	if s.used && s.seq == r.next+1 {
		return s
	}
	return nil
}

// pop releases the head slot and advances.
func (r *reorder) pop(s *slot) {
	s.used = false
	r.held--
	r.next++
}

// missing reports whether the expected packet should be declared lost:
// depth packets after it are already here.
func (r *reorder) missing() bool {
	if r.held == 0 {
		return false
	}
	newest := 0
	for i := range r.slots {
		s := &r.slots[i]
		if s.used {
			if d := int(int16(s.seq - r.next)); d > newest {
				newest = d
			}
		}
	}
	return newest >= r.depth
}

// skip declares the expected packet lost and advances.
func (r *reorder) skip() { r.next++ }

// reset forgets everything; the next packet restarts the sequence.
func (r *reorder) reset() {
	for i := range r.slots {
		r.slots[i].used = false
	}
	r.held, r.started = 0, false
}
