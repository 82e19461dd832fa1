package cdr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// filePerm is the mode of new CDR files: CDRs name people, so they are not
// world readable.
const filePerm = 0o640

// Writer appends records durably to CSV and/or JSON lines files. It is safe
// for concurrent use; see the package comment for the durability guarantee.
type Writer struct {
	cfg   FileConfig
	log   *slog.Logger
	now   func() time.Time
	files []*sinkFile
	reqs  chan *request
	pool  sync.Pool
	done  chan struct{}

	mu     sync.RWMutex // held for reading while sending to reqs; Close takes it to close reqs
	closed bool

	closeOnce sync.Once
	closeErr  error

	records, batches, syncs, failures, rotations atomic.Uint64
}

// WriterStats are counters of a Writer since it was created.
type WriterStats struct {
	Records   uint64 // records acknowledged as written
	Batches   uint64 // batches committed (one write and fsync per file each)
	Syncs     uint64 // fsync calls on CDR files
	Failures  uint64 // records whose Write returned a write error
	Rotations uint64 // files rotated
}

// request is one record handed to the committer.
type request struct {
	lines [2][]byte // the record, encoded for files[0] and files[1]
	done  chan error
}

// sinkFile is one open CDR file. Only the committer goroutine touches it.
type sinkFile struct {
	format Format
	path   string
	f      *os.File
	size   int64
	period int64 // rotation period of the file's first content
	buf    []byte
}

// NewWriter creates the directory if needed and starts the writer's
// committer goroutine; call Close to stop it. Existing files are appended
// to, after any torn final line left by a crash has been cut off. log may be
// nil.
func NewWriter(cfg FileConfig, log *slog.Logger) (*Writer, error) {
	return newWriter(cfg, log, time.Now)
}

func newWriter(cfg FileConfig, log *slog.Logger, now func() time.Time) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: files.dir: required", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	w := &Writer{
		cfg:  cfg,
		log:  log.With("component", "cdr"),
		now:  now,
		reqs: make(chan *request, cfg.MaxBatch),
		done: make(chan struct{}),
	}
	for _, f := range cfg.Formats {
		w.files = append(w.files, &sinkFile{format: f, path: filepath.Join(cfg.Dir, cfg.Name+"."+string(f))})
	}
	w.pool.New = func() any { return &request{done: make(chan error, 1)} }
	for _, s := range w.files {
		if err := w.open(s); err != nil {
			for _, s := range w.files {
				s.close()
			}
			return nil, err
		}
	}
	go w.run()
	return w, nil
}

// Write encodes rec and returns after it has been written and synchronised
// to disk in every configured format, or with the error that prevented it
// (wrapping [ErrWrite] or [ErrClosed]). If ctx ends first, Write returns
// ctx's error; the record may still be written.
func (w *Writer) Write(ctx context.Context, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := *rec
	c.Derive()
	r := w.pool.Get().(*request)
	for i, s := range w.files {
		if s.format == FormatCSV {
			r.lines[i] = c.AppendCSV(r.lines[i][:0])
		} else {
			r.lines[i] = c.AppendJSON(r.lines[i][:0])
		}
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.pool.Put(r)
		return ErrClosed
	}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		w.pool.Put(r)
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case err := <-r.done:
		w.pool.Put(r)
		return err
	case <-ctx.Done():
		return ctx.Err() // r still belongs to the committer
	}
}

// Close writes and synchronises the records already handed to Write, closes
// the files and stops the committer. It is idempotent; later Writes return
// ErrClosed.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.reqs)
		w.mu.Unlock()
		<-w.done
		var errs []error
		for _, s := range w.files {
			errs = append(errs, s.close())
		}
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Records:   w.records.Load(),
		Batches:   w.batches.Load(),
		Syncs:     w.syncs.Load(),
		Failures:  w.failures.Load(),
		Rotations: w.rotations.Load(),
	}
}

// Paths returns the paths of the active files, one per format.
func (w *Writer) Paths() []string {
	out := make([]string, len(w.files))
	for i, s := range w.files {
		out[i] = s.path
	}
	return out
}

// run is the committer: it takes a batch of requests, writes and syncs each
// file once, and answers every request of the batch.
func (w *Writer) run() {
	defer close(w.done)
	batch := make([]*request, 0, w.cfg.MaxBatch)
	var tick <-chan time.Time
	var timer *time.Timer
	if w.cfg.RotateInterval > 0 {
		timer = time.NewTimer(w.untilNextPeriod())
		defer timer.Stop()
		tick = timer.C
	}
	for {
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return
			}
			batch = append(batch[:0], r)
			open := w.gather(&batch)
			w.commit(batch)
			clear(batch)
			if !open {
				return
			}
		case <-tick:
			now := w.now()
			for _, s := range w.files {
				if s.hasRecords() && s.period != w.period(now) {
					if err := w.rotate(s, now); err != nil {
						w.log.Error("cdr file rotation failed", "path", s.path, "err", err)
					}
				}
			}
			timer.Reset(w.untilNextPeriod())
		}
	}
}

// gather adds waiting requests to the batch, up to MaxBatch, waiting at most
// MaxDelay for more. It returns false once reqs is closed.
func (w *Writer) gather(batch *[]*request) bool {
	var deadline <-chan time.Time
	if w.cfg.MaxDelay > 0 {
		t := time.NewTimer(w.cfg.MaxDelay)
		defer t.Stop()
		deadline = t.C
	}
	for len(*batch) < w.cfg.MaxBatch {
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
			continue
		default:
		}
		if deadline == nil {
			return true
		}
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
		case <-deadline:
			return true
		}
	}
	return true
}

// commit writes the batch to every file, syncs, and answers the requests.
func (w *Writer) commit(batch []*request) {
	now := w.now()
	var errs []error
	for i, s := range w.files {
		if err := w.commitFile(s, i, batch, now); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	w.batches.Add(1)
	if err != nil {
		w.failures.Add(uint64(len(batch)))
		w.log.Error("cdr write failed", "records", len(batch), "err", err)
	} else {
		w.records.Add(uint64(len(batch)))
	}
	for _, r := range batch {
		r.done <- err
	}
}

func (w *Writer) commitFile(s *sinkFile, i int, batch []*request, now time.Time) error {
	n := 0
	for _, r := range batch {
		n += len(r.lines[i])
	}
	if s.f != nil && s.hasRecords() {
		if (w.cfg.RotateInterval > 0 && s.period != w.period(now)) ||
			(w.cfg.MaxSize > 0 && s.size+int64(n) > w.cfg.MaxSize) {
			if err := w.rotate(s, now); err != nil {
				w.log.Error("cdr file rotation failed", "path", s.path, "err", err)
			}
		}
	}
	if s.f == nil {
		if err := w.open(s); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	if s.size == 0 {
		s.period = w.period(now)
		if s.format == FormatCSV {
			s.buf = append(s.buf, csvHeader...)
		}
	}
	for _, r := range batch {
		s.buf = append(s.buf, r.lines[i]...)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		s.fail()
		return fmt.Errorf("%w: %s: %w", ErrWrite, s.path, err)
	}
	s.size += int64(len(s.buf))
	w.syncs.Add(1)
	if err := s.f.Sync(); err != nil {
		// After a failed fsync the state of the written pages is unknown:
		// close the file; the next batch opens it again and cuts any torn
		// tail.
		s.fail()
		return fmt.Errorf("%w: %s: sync: %w", ErrWrite, s.path, err)
	}
	if cap(s.buf) > 4<<20 {
		s.buf = nil // do not hold on to the memory of one huge batch
	}
	return nil
}

// open opens (or creates) the active file of s, cutting a torn final line
// and moving aside a CSV file whose header is not the current one.
func (w *Writer) open(s *sinkFile) error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	size := st.Size()
	if size == 0 || !st.Mode().IsRegular() {
		// A new file: make its directory entry durable before any record
		// in it is acknowledged.
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			f.Close()
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
		s.f, s.size, s.period = f, 0, w.period(w.now())
		return nil
	}
	size, err = cutTornTail(f, size)
	if err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %w", ErrWrite, s.path, err)
	}
	if size != st.Size() {
		w.log.Warn("cdr file had a torn final line; cut it off", "path", s.path, "bytes", st.Size()-size)
	}
	s.f, s.size, s.period = f, size, w.period(st.ModTime())
	if s.format == FormatCSV && size > 0 {
		head := make([]byte, len(csvHeader))
		if _, err := f.ReadAt(head, 0); err != nil || string(head) != csvHeader {
			w.log.Warn("cdr file has another CSV header; rotating it", "path", s.path)
			if err := w.rotate(s, w.now()); err != nil {
				return err
			}
			return w.open(s)
		}
	}
	return nil
}

// cutTornTail truncates f after its last line feed and returns the new
// size. The bytes after it belong to a write that was never acknowledged.
func cutTornTail(f *os.File, size int64) (int64, error) {
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return size, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	buf := make([]byte, 32<<10)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return size, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if err := f.Truncate(end); err != nil {
		return size, err
	}
	return end, f.Sync()
}

// rotate closes s's file and renames it with the time of rotation:
// NAME-20261124T010203.456Z.csv (with -1, -2, ... on a clash).
func (w *Writer) rotate(s *sinkFile, now time.Time) error {
	if err := s.close(); err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	base := strings.TrimSuffix(s.path, filepath.Ext(s.path))
	stamp := now.UTC().Format("20060102T150405.000Z")
	target := ""
	for i := 0; i < 1000; i++ {
		name := base + "-" + stamp
		if i > 0 {
			name += fmt.Sprintf("-%d", i)
		}
		name += "." + string(s.format)
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			target = name
			break
		}
	}
	if target == "" {
		return fmt.Errorf("%w: no free name for %s", ErrRotate, s.path)
	}
	if err := os.Rename(s.path, target); err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	w.rotations.Add(1)
	w.log.Info("cdr file rotated", "path", target)
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	return nil
}

func (w *Writer) period(t time.Time) int64 {
	if w.cfg.RotateInterval <= 0 {
		return 0
	}
	return t.UnixNano() / int64(w.cfg.RotateInterval)
}

func (w *Writer) untilNextPeriod() time.Duration {
	now := w.now()
	next := time.Unix(0, (w.period(now)+1)*int64(w.cfg.RotateInterval))
	return max(next.Sub(now), time.Millisecond)
}

// hasRecords reports whether the file holds at least one record.
func (s *sinkFile) hasRecords() bool {
	if s.format == FormatCSV {
		return s.size > int64(len(csvHeader))
	}
	return s.size > 0
}

func (s *sinkFile) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.size = nil, 0
	return err
}

// fail drops the file after a write error; the next batch reopens it.
func (s *sinkFile) fail() {
	_ = s.close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
