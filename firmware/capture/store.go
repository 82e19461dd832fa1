package capture

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// Limits caps one capture. Zero fields take Config.DefaultDuration and
// Config.DefaultBytes; larger values than Config.MaxDuration and
// Config.MaxBytes are refused.
type Limits struct {
	// Duration ends the capture this long after it started.
	Duration time.Duration
	// Bytes ends the capture when its file reaches this size.
	Bytes int64
}

// Info describes a capture, running or finished.
type Info struct {
	// ID names the capture; its file is <ID>.pcapng in the capture
	// directory.
	ID string
	// Filter is the filter in ParseFilter's form, or "ring" for a dump of
	// the ring buffer.
	Filter string
	// Started and Ended bound the capture; Ended is zero while it runs.
	Started, Ended time.Time
	// Running is true until the capture ends.
	Running bool
	// Packets is the number of packets written; -1 when unknown (a file
	// from an earlier run of sbcd).
	Packets int64
	// Size is the file's size in bytes (of the data written so far while
	// running).
	Size int64
	// Reason says why the capture ended: "stopped", "duration", "size",
	// "closed" (sbcd shut down) or "error". Empty while running or unknown.
	Reason string
}

// session is one running per-call capture.
type session struct {
	id       string
	filter   Filter
	started  time.Time
	deadline time.Time
	maxBytes int64
	tmp      string
	f        *os.File
	bw       *bufio.Writer // between the Writer and the file: fewer, larger writes
	w        *Writer
	packets  atomic.Int64

	// Owned by the writer goroutine.
	lastSeq uint64
	done    bool
	err     error
}

func (s *session) info() Info {
	return Info{ID: s.id, Filter: s.filter.String(), Started: s.started, Running: true,
		Packets: s.packets.Load(), Size: s.w.Bytes()}
}

const (
	fileExt = ".pcapng"
	partExt = ".pcapng.part"
)

var idPattern = regexp.MustCompile(`^(call|number|addr|realm|trunk|ring)-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)

func newID(kind string, now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return kind + "-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("capture: directory: %w", err)
	}
	parts, err := filepath.Glob(filepath.Join(dir, ".*"+partExt))
	if err != nil {
		return fmt.Errorf("capture: directory: %w", err)
	}
	for _, p := range parts {
		_ = os.Remove(p)
	}
	return nil
}

func sectionComment(node, filter string, started time.Time, lim Limits) string {
	s := "OpenBorder sbcd capture; node=" + node + "; filter=" + filter +
		"; started=" + started.UTC().Format(time.RFC3339Nano)
	if lim.Duration > 0 {
		s += "; max_duration=" + lim.Duration.String() + "; max_bytes=" + strconv.FormatInt(lim.Bytes, 10)
	}
	return s
}

// Start starts a capture of what f selects, bounded by lim, and returns
// its id. Calls already known to the Tap are evaluated at once; later
// calls when the Tap learns of them.
func (c *Capturer) Start(ctx context.Context, f Filter, lim Limits) (string, error) {
	if err := f.validate(); err != nil {
		return "", err
	}
	if c.cfg.Dir == "" {
		return "", ErrNoDir
	}
	if lim.Duration < 0 || lim.Bytes < 0 {
		return "", fmt.Errorf("%w: negative limit", ErrConfig)
	}
	if lim.Duration == 0 {
		lim.Duration = c.cfg.DefaultDuration
	}
	if lim.Bytes == 0 {
		lim.Bytes = c.cfg.DefaultBytes
	}
	if lim.Duration > c.cfg.MaxDuration || lim.Bytes > c.cfg.MaxBytes {
		return "", fmt.Errorf("%w: limits %v / %d bytes exceed the maximum %v / %d bytes",
			ErrConfig, lim.Duration, lim.Bytes, c.cfg.MaxDuration, c.cfg.MaxBytes)
	}
	if c.closed.Load() {
		return "", ErrClosed
	}
	now := time.Now()
	s := &session{id: newID(f.Kind.String(), now), filter: f, started: now,
		deadline: now.Add(lim.Duration), maxBytes: lim.Bytes}
	s.tmp = filepath.Join(c.cfg.Dir, "."+s.id+partExt)
	file, err := os.OpenFile(s.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("capture: create file: %w", err)
	}
	bw := bufio.NewWriterSize(file, 64<<10)
	w, err := NewWriter(bw, WriterOptions{RawIP: c.cfg.RawIP,
		Comment: sectionComment(c.cfg.Node, f.String(), now, lim)})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		_ = file.Close()
		_ = os.Remove(s.tmp)
		return "", err
	}
	s.f, s.bw, s.w = file, bw, w

	var startErr error
	err = c.do(ctx, func() { startErr = c.attach(s) })
	if err == nil {
		err = startErr
	}
	if err != nil {
		_ = file.Close()
		_ = os.Remove(s.tmp)
		return "", err
	}
	c.log.Info("capture started", "capture", s.id, "filter", f.String(),
		"max_duration", lim.Duration, "max_bytes", lim.Bytes)
	return s.id, nil
}

// attach publishes s to the Tap. It runs in the writer goroutine.
func (c *Capturer) attach(s *session) error {
	c.filterMu.Lock()
	defer c.filterMu.Unlock()
	cur := c.runningSessions()
	if len(cur) >= c.cfg.MaxCaptures {
		return fmt.Errorf("%w: %d running", ErrTooMany, len(cur))
	}
	c.infoMu.Lock()
	c.running[s.id] = s
	c.infoMu.Unlock()
	list := append(slices.Clone(cur), s)
	c.sessions.Store(&list)
	c.callSessions.Add(1)
	if s.filter.Kind == ByAddr {
		c.publishAddrSessions(list)
	}
	c.calls.each(func(e *callEntry) {
		e.mu.Lock()
		match := s.filter.matchesCall(&e.call)
		e.mu.Unlock()
		if match {
			e.addCap(s)
		}
	})
	return nil
}

func (c *Capturer) publishAddrSessions(list []*session) {
	var addr []*session
	for _, x := range list {
		if x.filter.Kind == ByAddr {
			addr = append(addr, x)
		}
	}
	if len(addr) == 0 {
		c.addrSessions.Store(nil)
		return
	}
	c.addrSessions.Store(&addr)
}

// finish ends a running capture: it stops matching, its file is flushed,
// synced and renamed into place. It runs in the writer goroutine.
func (c *Capturer) finish(s *session, reason string) {
	if s.done {
		return
	}
	s.done = true
	c.filterMu.Lock()
	list := slices.DeleteFunc(slices.Clone(c.runningSessions()), func(x *session) bool { return x == s })
	if len(list) == 0 {
		c.sessions.Store(nil)
	} else {
		c.sessions.Store(&list)
	}
	c.callSessions.Add(-1)
	if s.filter.Kind == ByAddr {
		c.publishAddrSessions(list)
	}
	c.calls.each(func(e *callEntry) { e.removeCap(s) })
	c.filterMu.Unlock()

	err := s.w.Flush()
	if err == nil {
		err = s.bw.Flush()
	}
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(c.cfg.Dir, s.id+fileExt)
	if err == nil {
		err = os.Rename(s.tmp, final)
	}
	if err != nil {
		_ = os.Remove(s.tmp)
		c.log.Error("capture file lost", "capture", s.id, "err", err)
	}
	info := s.info()
	info.Running, info.Ended, info.Reason = false, time.Now(), reason
	if st, serr := os.Stat(final); serr == nil {
		info.Size = st.Size()
	}
	c.infoMu.Lock()
	delete(c.running, s.id)
	if err == nil {
		c.finished[s.id] = info
	}
	c.infoMu.Unlock()
	if s.err != nil {
		c.log.Error("capture ended by a write error", "capture", s.id, "packets", info.Packets, "err", s.err)
	} else {
		c.log.Info("capture ended", "capture", s.id, "reason", reason, "packets", info.Packets, "bytes", info.Size)
	}
	c.retain()
}

// Stop ends a running capture and returns its description. Stopping a
// capture that already ended returns its description too.
func (c *Capturer) Stop(ctx context.Context, id string) (Info, error) {
	if !idPattern.MatchString(id) {
		return Info{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var found bool
	err := c.do(ctx, func() {
		c.infoMu.Lock()
		s := c.running[id]
		c.infoMu.Unlock()
		if s != nil {
			c.finish(s, "stopped")
			found = true
		}
	})
	if err != nil && !errors.Is(err, ErrClosed) {
		return Info{}, err
	}
	c.infoMu.Lock()
	info, ok := c.finished[id]
	c.infoMu.Unlock()
	if ok {
		return info, nil
	}
	if !found {
		// Perhaps a file from an earlier run.
		if info, err := c.fileInfo(id); err == nil {
			return info, nil
		}
	}
	return Info{}, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// List describes the running captures and the files in the capture
// directory, newest first.
func (c *Capturer) List() ([]Info, error) {
	if c.cfg.Dir == "" {
		return nil, ErrNoDir
	}
	var out []Info
	c.infoMu.Lock()
	for _, s := range c.running {
		out = append(out, s.info())
	}
	c.infoMu.Unlock()
	names, err := filepath.Glob(filepath.Join(c.cfg.Dir, "*"+fileExt))
	if err != nil {
		return nil, fmt.Errorf("capture: list: %w", err)
	}
	for _, n := range names {
		id := strings.TrimSuffix(filepath.Base(n), fileExt)
		if !idPattern.MatchString(id) {
			continue
		}
		info, err := c.fileInfo(id)
		if err != nil {
			continue // deleted meanwhile or not ours
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return b.Started.Compare(a.Started) })
	return out, nil
}

// fileInfo describes a finished capture file.
func (c *Capturer) fileInfo(id string) (Info, error) {
	path := filepath.Join(c.cfg.Dir, id+fileExt)
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	c.infoMu.Lock()
	info, ok := c.finished[id]
	c.infoMu.Unlock()
	if ok {
		info.Size = st.Size()
		return info, nil
	}
	info = Info{ID: id, Packets: -1, Size: st.Size(), Ended: st.ModTime()}
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		if r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions); err == nil {
			for _, field := range strings.Split(r.SectionInfo().Comment, "; ") {
				k, v, _ := strings.Cut(field, "=")
				switch k {
				case "filter":
					info.Filter = v
				case "started":
					info.Started, _ = time.Parse(time.RFC3339Nano, v)
				}
			}
		}
	}
	return info, nil
}

// Open opens the file of a finished capture for reading.
func (c *Capturer) Open(id string) (*os.File, Info, error) {
	if c.cfg.Dir == "" {
		return nil, Info{}, ErrNoDir
	}
	if !idPattern.MatchString(id) {
		return nil, Info{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	c.infoMu.Lock()
	_, running := c.running[id]
	c.infoMu.Unlock()
	if running {
		return nil, Info{}, fmt.Errorf("%w: %q", ErrRunning, id)
	}
	info, err := c.fileInfo(id)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(filepath.Join(c.cfg.Dir, id+fileExt))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Info{}, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return nil, Info{}, fmt.Errorf("capture: open: %w", err)
	}
	return f, info, nil
}

// WriteRing writes the ring buffer's SIP as PCAPNG to w.
func (c *Capturer) WriteRing(ctx context.Context, w io.Writer) error {
	_, err := c.writeRing(ctx, w, time.Now())
	return err
}

func (c *Capturer) writeRing(ctx context.Context, w io.Writer, now time.Time) (int64, error) {
	if !c.ringOn {
		return 0, ErrRingOff
	}
	var recs []Record
	if err := c.do(ctx, func() { recs = c.ring.snapshot() }); err != nil {
		return 0, err
	}
	comment := sectionComment(c.cfg.Node, "ring", now, Limits{}) +
		"; ring_duration=" + c.cfg.RingDuration.String() + "; ring_bytes=" + strconv.FormatInt(c.cfg.RingBytes, 10)
	wr, err := NewWriter(w, WriterOptions{RawIP: c.cfg.RawIP, Comment: comment})
	if err != nil {
		return 0, err
	}
	for i := range recs {
		if err := wr.Write(&recs[i]); err != nil {
			return wr.Packets(), err
		}
	}
	return wr.Packets(), wr.Flush()
}

// SaveRing writes the ring buffer to a file in the capture directory and
// returns its description.
func (c *Capturer) SaveRing(ctx context.Context) (Info, error) {
	if c.cfg.Dir == "" {
		return Info{}, ErrNoDir
	}
	now := time.Now()
	id := newID("ring", now)
	tmp := filepath.Join(c.cfg.Dir, "."+id+partExt)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return Info{}, fmt.Errorf("capture: create file: %w", err)
	}
	n, err := c.writeRing(ctx, f, now)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(c.cfg.Dir, id+fileExt)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return Info{}, err
	}
	info := Info{ID: id, Filter: "ring", Started: now, Ended: time.Now(), Packets: n, Reason: "stopped"}
	if st, err := os.Stat(final); err == nil {
		info.Size = st.Size()
	}
	c.infoMu.Lock()
	c.finished[id] = info
	c.infoMu.Unlock()
	c.retain()
	return info, nil
}

// retain deletes the oldest finished files beyond KeepFiles and KeepBytes.
func (c *Capturer) retain() {
	c.retainMu.Lock()
	defer c.retainMu.Unlock()
	names, err := filepath.Glob(filepath.Join(c.cfg.Dir, "*"+fileExt))
	if err != nil {
		return
	}
	type file struct {
		id   string
		mod  time.Time
		size int64
	}
	var files []file
	var total int64
	for _, n := range names {
		id := strings.TrimSuffix(filepath.Base(n), fileExt)
		if !idPattern.MatchString(id) {
			continue
		}
		st, err := os.Stat(n)
		if err != nil {
			continue
		}
		files = append(files, file{id, st.ModTime(), st.Size()})
		total += st.Size()
	}
	slices.SortFunc(files, func(a, b file) int {
		if d := a.mod.Compare(b.mod); d != 0 {
			return d
		}
		return strings.Compare(a.id, b.id)
	})
	for len(files) > 1 && (len(files) > c.cfg.KeepFiles || total > c.cfg.KeepBytes) {
		old := files[0]
		files = files[1:]
		if err := os.Remove(filepath.Join(c.cfg.Dir, old.id+fileExt)); err != nil {
			continue
		}
		total -= old.size
		c.infoMu.Lock()
		delete(c.finished, old.id)
		c.infoMu.Unlock()
		c.log.Info("capture file removed by retention", "capture", old.id, "bytes", old.size)
	}
}

// Running reports whether the capture id is running.
func (c *Capturer) Running(id string) bool {
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	_, ok := c.running[id]
	return ok
}
