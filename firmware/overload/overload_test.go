package overload

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one sample: refusals added since the previous one.
type step struct {
	admission, flood uint64
	want             string // "", "start" or "end"
}

func TestDetector(t *testing.T) {
	cfg := Config{Interval: time.Second, Raise: 10, Clear: 2, ClearAfter: 3 * time.Second}
	cases := []struct {
		name  string
		steps []step
	}{
		{"below raise never starts", []step{{9, 0, ""}, {0, 9, ""}, {5, 4, ""}}},
		{"admission refusals start an episode", []step{{10, 0, "start"}, {50, 0, ""}}},
		{"flood drops start an episode", []step{{0, 500, "start"}}},
		{"both add up", []step{{6, 4, "start"}}},
		{"one clear after a calm of clear_after", []step{{20, 0, "start"}, {1, 0, ""}, {1, 0, ""}, {0, 0, "end"}, {0, 0, ""}, {30, 0, "start"}}},
		{"rates between clear and raise hold the episode", []step{{20, 0, "start"}, {5, 0, ""}, {5, 0, ""}, {5, 0, ""}, {5, 0, ""}, {1, 0, ""}}},
		{"a calm run broken by a burst starts over", []step{{20, 0, "start"}, {0, 0, ""}, {0, 0, ""}, {3, 0, ""}, {0, 0, ""}, {0, 0, ""}, {0, 0, "end"}}},
		{"flapping around raise gives one episode", []step{{10, 0, "start"}, {9, 0, ""}, {10, 0, ""}, {9, 0, ""}, {11, 0, ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDetector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1000, 0)
			var c Counts
			if _, ok := d.Observe(now, c); ok {
				t.Fatal("the baseline sample reported an event")
			}
			starts := 0
			for i, s := range tc.steps {
				now = now.Add(time.Second)
				c.Admission += s.admission
				c.Flood += s.flood
				ev, ok := d.Observe(now, c)
				got := ""
				if ok {
					got = "end"
					if ev.Overloaded {
						got = "start"
						starts++
					}
				}
				if got != s.want {
					t.Fatalf("step %d (%+v): event %q (%+v), want %q", i, s, got, ev, s.want)
				}
				if ok && ev.Reason == "" {
					t.Errorf("step %d: event without a reason", i)
				}
				if got == "start" && (ev.AdmissionRate != float64(s.admission) || ev.FloodRate != float64(s.flood)) {
					t.Errorf("step %d: rates %v/%v, want %d/%d", i, ev.AdmissionRate, ev.FloodRate, s.admission, s.flood)
				}
			}
			if d.State().Episodes != uint64(starts) {
				t.Errorf("episodes %d, want %d", d.State().Episodes, starts)
			}
		})
	}
}

func TestDetectorRatesUseElapsedTime(t *testing.T) {
	d, err := NewDetector(Config{Interval: time.Second, Raise: 10})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	d.Observe(now, Counts{})
	// 30 refusals over 5 s is 6/s: below 10/s.
	if _, ok := d.Observe(now.Add(5*time.Second), Counts{Admission: 30}); ok {
		t.Fatalf("6/s started an episode: %+v", d.State())
	}
	if r := d.State().AdmissionRate; r != 6 {
		t.Errorf("rate %v, want 6", r)
	}
	// A counter that went backwards counts as no refusals, not a huge rate.
	if _, ok := d.Observe(now.Add(6*time.Second), Counts{Admission: 1}); ok || d.State().Rate() != 0 {
		t.Errorf("counter reset: %+v", d.State())
	}
	// A sample at the same instant is ignored.
	if _, ok := d.Observe(now.Add(6*time.Second), Counts{Admission: 1000}); ok {
		t.Error("a zero-length interval gave an event")
	}
}

func TestConfig(t *testing.T) {
	d, err := NewDetector(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Config(); got != (Config{Interval: DefaultInterval, Raise: DefaultRaise, Clear: DefaultClear, ClearAfter: DefaultClearAfter}) {
		t.Errorf("defaults %+v", got)
	}
	if got := (Config{Raise: 1}).withDefaults().Clear; got != 0.5 {
		t.Errorf("clear default for raise 1: %v, want 0.5", got)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Interval: 500 * time.Millisecond}, "interval"},
		{Config{Raise: -1}, "raise"},
		{Config{Raise: 5, Clear: 5}, "clear 5"},
		{Config{Clear: -1}, "clear -1"},
		{Config{Interval: 10 * time.Second, ClearAfter: 5 * time.Second}, "clear_after"},
	} {
		_, err := NewDetector(tc.cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrConfig mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMonitor(t *testing.T) {
	var refused atomic.Uint64
	var mu sync.Mutex
	var events []Event
	got := make(chan struct{}, 4)
	m, err := NewMonitor(Config{Interval: time.Second, Raise: 1, Clear: 0.5, ClearAfter: time.Second},
		func() Counts { return Counts{Admission: refused.Load()} },
		func(ev Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			got <- struct{}{}
		})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	// A flood of refusals: each tick sees many more; the first tick after
	// the baseline starts the episode.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				refused.Add(10)
			}
		}
	}()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no overload event")
	}
	if !m.State().Overloaded {
		t.Errorf("state after the start event: %+v", m.State())
	}
	close(stop)
	select {
	case <-got:
	case <-time.After(6 * time.Second):
		t.Fatal("no clear event")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || !events[0].Overloaded || events[1].Overloaded {
		t.Fatalf("events %+v, want one start and one end", events)
	}
}
