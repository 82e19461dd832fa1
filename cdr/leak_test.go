package cdr

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// waitGoroutines waits until no more goroutines run than before.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWriterNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		w, err := NewWriter(FileConfig{Dir: t.TempDir(), RotateInterval: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := sampleRecord("leak")
		if err := w.Write(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	waitGoroutines(t, before)
}
