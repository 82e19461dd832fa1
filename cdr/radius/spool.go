package radius

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// event is one accounting request waiting to be sent: its attributes
// without Acct-Delay-Time (added at each transmission) and the time of the
// event it reports.
type event struct {
	seq   uint64
	when  time.Time
	attrs []byte // encoded attributes
}

// spoolMagic starts every spool file: format version 1.
const spoolMagic = "OBA1"

func (e *event) marshal() []byte {
	b := make([]byte, 0, len(spoolMagic)+8+len(e.attrs))
	b = append(b, spoolMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.when.UnixNano()))
	return append(b, e.attrs...)
}

func unmarshalEvent(seq uint64, b []byte) (*event, error) {
	if len(b) < len(spoolMagic)+8 || string(b[:len(spoolMagic)]) != spoolMagic {
		return nil, fmt.Errorf("%w: not a spool entry", ErrMalformed)
	}
	attrs := b[len(spoolMagic)+8:]
	if _, err := decodeAttributes(attrs, nil); err != nil {
		return nil, err
	}
	when := time.Unix(0, int64(binary.BigEndian.Uint64(b[len(spoolMagic):])))
	return &event{seq: seq, when: when, attrs: attrs}, nil
}

// spool keeps events on disk, one file per event named by its sequence
// number, so that they are replayed in the order they were made, across
// restarts too. It is safe for concurrent use.
type spool struct {
	dir string
	max int64

	mu      sync.Mutex
	entries []spoolEntry // sorted by seq
	bytes   int64
}

type spoolEntry struct {
	seq  uint64
	size int64
}

const spoolExt = ".acct"

// openSpool loads the index of an existing spool directory (creating it) and
// returns the highest sequence number found.
func openSpool(dir string, maxBytes int64) (*spool, uint64, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	s := &spool{dir: dir, max: maxBytes}
	var last uint64
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") { // a write cut short by a crash
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, spoolExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, spoolExt) || !de.Type().IsRegular() {
			continue // not ours
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		s.entries = append(s.entries, spoolEntry{seq, info.Size()})
		s.bytes += info.Size()
		last = max(last, seq)
	}
	slices.SortFunc(s.entries, func(a, b spoolEntry) int { return cmpU64(a.seq, b.seq) })
	return s, last, nil
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, spoolExt))
}

// add writes an event to the spool (not fsynced: the spool survives a crash
// of the process, not necessarily of the machine).
func (s *spool) add(e *event) error {
	b := e.marshal()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes+int64(len(b)) > s.max {
		return ErrSpoolFull
	}
	p := s.path(e.seq)
	if err := os.WriteFile(p+".tmp", b, 0o640); err != nil {
		_ = os.Remove(p + ".tmp")
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		_ = os.Remove(p + ".tmp")
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	i, _ := slices.BinarySearchFunc(s.entries, e.seq, func(a spoolEntry, seq uint64) int { return cmpU64(a.seq, seq) })
	s.entries = slices.Insert(s.entries, i, spoolEntry{e.seq, int64(len(b))})
	s.bytes += int64(len(b))
	return nil
}

// head returns the oldest event. A file that cannot be read back is
// removed and reported as an error wrapping ErrSpool or ErrMalformed.
func (s *spool) head() (*event, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 {
		return nil, false, nil
	}
	seq := s.entries[0].seq
	b, err := os.ReadFile(s.path(seq))
	var e *event
	if err == nil {
		e, err = unmarshalEvent(seq, b)
	} else {
		err = fmt.Errorf("%w: %w", ErrSpool, err)
	}
	if err != nil {
		s.removeLocked(seq)
		return nil, false, err
	}
	return e, true, nil
}

func (s *spool) remove(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(seq)
}

func (s *spool) removeLocked(seq uint64) {
	i, ok := slices.BinarySearchFunc(s.entries, seq, func(a spoolEntry, seq uint64) int { return cmpU64(a.seq, seq) })
	if !ok {
		return
	}
	// A file that cannot be removed is found again after a restart at
	// worst; the index moves on either way.
	_ = os.Remove(s.path(seq))
	s.bytes -= s.entries[i].size
	s.entries = slices.Delete(s.entries, i, i+1)
}

// stats returns the number of spooled events and their size.
func (s *spool) stats() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries), s.bytes
}

func cmpU64(a, b uint64) int { return cmp.Compare(a, b) }
