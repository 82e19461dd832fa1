package cdr

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv switches the test binary into the crash test's child: it
// writes records from several goroutines into the directory named by the
// variable and prints each record's id once its Write has returned.
const crashChildEnv = "OPENBORDER_CDR_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashRecord is the record the child writes for an id; the parent rebuilds
// it to check that what it reads back is complete.
func crashRecord(id string) Record {
	r := sampleRecord(id)
	r.SIPReason = "OK, " + strings.Repeat("x", len(id)*7) // some variety in line lengths, and quoting
	r.DTMF = id
	return r
}

func crashChild(dir string) int {
	w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{FormatCSV, FormatJSONL}, MaxSize: 128 << 10}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second) // the parent kills us long before
	for g := range 8 {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				rec := crashRecord(id)
				if err := w.Write(context.Background(), &rec); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, id) // unbuffered: the ack leaves before the next record starts
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	w.Close()
	return 0
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for len(acked) < 500 && sc.Scan() {
		acked[sc.Text()] = true
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acks already in the pipe were printed after their Write returned
	// too: they count. Only a final line cut mid-way is not an ack.
	var rest []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := out.Read(buf)
		rest = append(rest, buf[:n]...)
		if err != nil {
			break
		}
	}
	lines := strings.Split(string(rest), "\n")
	for _, l := range lines[:len(lines)-1] {
		if l != "" {
			acked[l] = true
		}
	}
	_ = cmd.Wait()
	if len(acked) < 500 {
		t.Fatalf("child acknowledged only %d records", len(acked))
	}

	for _, format := range []Format{FormatCSV, FormatJSONL} {
		found := map[string]bool{}
		names, _ := filepath.Glob(filepath.Join(dir, "*."+string(format)))
		torn := 0
		for _, name := range names {
			res, err := ReadFile(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res.Torn > 0 {
				torn++
			}
			for _, r := range res.Records {
				if want := crashRecord(r.CallID); !reflect.DeepEqual(r, want) {
					t.Fatalf("%s: record %s incomplete:\n got %+v\nwant %+v", name, r.CallID, r, want)
				}
				if found[r.CallID] {
					t.Fatalf("%s: record %s twice", name, r.CallID)
				}
				found[r.CallID] = true
			}
		}
		if torn > 1 {
			t.Fatalf("%s: %d files with a torn tail", format, torn)
		}
		for id := range acked {
			if !found[id] {
				t.Fatalf("%s: acknowledged record %s is missing", format, id)
			}
		}
		t.Logf("%s: %d files, %d acknowledged records all present, %d records on disk, %d torn tail(s)", format, len(names), len(acked), len(found), torn)
	}

	// A writer opened on the crashed files cuts the torn tail and appends.
	w, err := NewWriter(FileConfig{Dir: dir, Formats: []Format{FormatCSV, FormatJSONL}, MaxSize: 128 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := crashRecord("after-crash")
	if err := w.Write(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range w.Paths() {
		res, err := ReadFile(p)
		if err != nil || res.Torn != 0 || res.Records[len(res.Records)-1].CallID != "after-crash" {
			t.Fatalf("%s after restart: %v torn %d", p, err, res.Torn)
		}
	}
}
