package radius

import (
	"runtime"
	"testing"
	"time"
)

func TestClientNoGoroutineLeak(t *testing.T) {
	srv := newFakeServer(t, testSecret)
	before := runtime.NumGoroutine()
	for range 3 {
		cfg := testConfig(t, srv.addr())
		cfg.InterimInterval = time.Second
		c, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Start(testRecord("leak"))
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
