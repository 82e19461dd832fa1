package cdr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openborder/openborder/test/testenv"
)

func readAll(t *testing.T, dir string, ext string) (ids []string, files int) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*."+ext))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		res, err := ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Torn != 0 {
			t.Fatalf("%s: torn tail of %d bytes after a clean close", name, res.Torn)
		}
		for _, r := range res.Records {
			ids = append(ids, r.CallID)
		}
	}
	sort.Strings(ids)
	return ids, len(names)
}

func TestWriterConcurrent(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{FormatCSV, FormatJSONL}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				rec := sampleRecord(fmt.Sprintf("g%02d-%03d", g, i))
				rec.SetupTime, rec.Duration = 0, 0 // Write derives them
				errs <- w.Write(context.Background(), &rec)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Records != writers*each || st.Failures != 0 || st.Syncs != 2*st.Batches {
		t.Fatalf("stats %+v", st)
	}
	for _, ext := range []string{"csv", "jsonl"} {
		ids, files := readAll(t, dir, ext)
		if len(ids) != writers*each || files != 1 {
			t.Fatalf("%s: %d records in %d files", ext, len(ids), files)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] == ids[i-1] {
				t.Fatalf("%s: %s twice", ext, ids[i])
			}
		}
	}
	res, err := ReadFile(filepath.Join(dir, "cdr.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecord("x")
	if got := res.Records[0]; got.SetupTime != want.SetupTime || got.Duration != want.Duration {
		t.Fatalf("derived setup %v duration %v", got.SetupTime, got.Duration)
	}
}

func TestWriterRotateBySize(t *testing.T) {
	dir := t.TempDir()
	line := sampleRecord("r00") // every id has the same length
	size := int64(len(line.AppendCSV(nil)))
	// Room for the header and three records per file.
	w, err := NewWriter(FileConfig{Dir: dir, MaxSize: int64(len(csvHeader)) + 3*size + 1, RotateInterval: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		rec := sampleRecord(fmt.Sprintf("r%02d", i))
		if err := w.Write(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ids, files := readAll(t, dir, "csv")
	if len(ids) != 10 || files != 4 || w.Stats().Rotations != 3 {
		t.Fatalf("%d records in %d files, %d rotations", len(ids), files, w.Stats().Rotations)
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
	for _, name := range rotated {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > int64(len(csvHeader))+3*size+1 {
			t.Errorf("%s: %d bytes", name, st.Size())
		}
	}
}

func TestWriterRotateByTime(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 9, 59, 59, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w, err := newWriter(FileConfig{Dir: dir, Formats: []Format{FormatJSONL}, RotateInterval: time.Hour}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	write := func(id string) {
		rec := sampleRecord(id)
		if err := w.Write(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	write("before")
	write("before2")
	mu.Lock()
	now = now.Add(2 * time.Second) // 10:00:01, the next hour
	mu.Unlock()
	write("after")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := ReadFile(filepath.Join(dir, "cdr-20261124T100001.000Z.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := ReadFile(filepath.Join(dir, "cdr.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Records) != 2 || old.Records[1].CallID != "before2" || len(cur.Records) != 1 || cur.Records[0].CallID != "after" {
		t.Fatalf("rotated %+v, current %+v", old.Records, cur.Records)
	}
}

func TestWriterRotateByTimeWithoutWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 1s period boundary")
	}
	dir := t.TempDir()
	w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{FormatCSV}, RotateInterval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := sampleRecord("idle")
	if err := w.Write(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if rotated, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv")); len(rotated) == 1 {
			res, err := ReadFile(rotated[0])
			if err != nil || len(res.Records) != 1 {
				t.Fatalf("rotated file: %v %+v", err, res)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the file was not rotated at the period boundary")
}

func TestWriterRepairsTornTail(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		tail   string
	}{
		{"csv", FormatCSV, "torn,record,with,no,newl"},
		{"jsonl", FormatJSONL, `{"call_id":"torn`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cdr."+string(tt.format))
			old := sampleRecord("old")
			var content []byte
			if tt.format == FormatCSV {
				content = append([]byte(csvHeader), old.AppendCSV(nil)...)
			} else {
				content = old.AppendJSON(nil)
			}
			content = append(content, tt.tail...)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if res, err := ReadFile(path); err != nil || res.Torn != len(tt.tail) {
				t.Fatalf("before: %v torn %d", err, res.Torn)
			}
			w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{tt.format}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := sampleRecord("new")
			if err := w.Write(context.Background(), &rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			res, err := ReadFile(path)
			if err != nil || res.Torn != 0 || len(res.Records) != 2 || res.Records[0].CallID != "old" || res.Records[1].CallID != "new" {
				t.Fatalf("after: %v %+v", err, res)
			}
		})
	}
}

func TestWriterMovesOldHeaderAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cdr.csv")
	if err := os.WriteFile(path, []byte("call_id,old_column\nx,y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(FileConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord("new")
	if err := w.Write(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if res, err := ReadFile(path); err != nil || len(res.Records) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	rotated, _ := filepath.Glob(filepath.Join(dir, "cdr-*.csv"))
	if len(rotated) != 1 {
		t.Fatalf("old file not moved aside: %v", rotated)
	}
	if b, _ := os.ReadFile(rotated[0]); string(b) != "call_id,old_column\nx,y\n" {
		t.Fatalf("old file changed: %q", b)
	}
}

func TestWriterFailingDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		testenv.SkipUnlessCI(t, "no /dev/full: %v", err)
	}
	dir := t.TempDir()
	// A file whose writes fail with ENOSPC, like a full disk.
	if err := os.Symlink("/dev/full", filepath.Join(dir, "cdr.jsonl")); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{FormatCSV, FormatJSONL}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // every write fails the same way: no panic, no hang
		rec := sampleRecord("x")
		err = w.Write(context.Background(), &rec)
		if !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("got %v", err)
		}
	}
	if st := w.Stats(); st.Failures != 3 || st.Records != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewWriter(FileConfig{Dir: filepath.Join(blocker, "sub")}, nil)
	if !errors.Is(err, ErrWrite) {
		t.Fatalf("got %v", err)
	}
}

func TestWriterCloseAndContext(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(FileConfig{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := sampleRecord("x")
	if err := w.Write(ctx, &rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Write(context.Background(), &rec); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestWriterConfigErrors(t *testing.T) {
	if _, err := NewWriter(FileConfig{}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("no dir: %v", err)
	}
	if _, err := NewWriter(FileConfig{Dir: t.TempDir(), Formats: []Format{"xml"}}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad format: %v", err)
	}
}
