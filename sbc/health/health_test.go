package health

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openborder/openborder/policy"
)

func TestStep(t *testing.T) {
	check := policy.HealthCheckConfig{Failures: 3, Successes: 2}
	tests := []struct {
		name   string
		start  State
		probes string // o = ok, x = failed
		want   string // state after each probe: U(p) D(own) ?(unknown)
	}{
		{"first answer brings it up", Unknown, "o", "U"},
		{"three failures take it down", Up, "xxx", "UUD"},
		{"a success resets the failure run", Up, "xxoxx", "UUUUU"},
		{"unknown goes down too", Unknown, "xxx", "??D"},
		{"two successes bring it back", Down, "oxoo", "DDDU"},
		{"down stays down on failures", Down, "xxxx", "DDDD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Status{State: tt.start}
			got := ""
			for _, p := range tt.probes {
				s := Step(&st, p == 'o', check)
				st.State = s
				got += map[State]string{Unknown: "?", Up: "U", Down: "D"}[s]
			}
			if got != tt.want {
				t.Errorf("states %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		code int
		err  error
		ok   bool
		want string
	}{
		{200, nil, true, "200"},
		{404, nil, true, "404"},
		{503, nil, false, "503"},
		{0, context.DeadlineExceeded, false, "timeout"},
		{0, errors.New("refused"), false, "error: refused"},
	}
	for _, tt := range tests {
		ok, label := outcome(tt.code, tt.err)
		if ok != tt.ok || label != tt.want {
			t.Errorf("outcome(%d, %v) = %v %q, want %v %q", tt.code, tt.err, ok, label, tt.ok, tt.want)
		}
	}
}

// fakeGateways answers probes per address as told.
type fakeGateways struct {
	mu     sync.Mutex
	answer map[netip.AddrPort]int // 0: silent until the probe's deadline
	probes atomic.Int64
}

func (f *fakeGateways) set(a netip.AddrPort, code int) {
	f.mu.Lock()
	f.answer[a] = code
	f.mu.Unlock()
}

func (f *fakeGateways) probe(ctx context.Context, t Target) (int, error) {
	f.probes.Add(1)
	f.mu.Lock()
	code := f.answer[t.Addr]
	f.mu.Unlock()
	if code == 0 {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return code, nil
}

func waitState(t *testing.T, m *Monitor, realm string, a netip.AddrPort, want State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, ok := m.State(realm, a); ok && st.State == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, _ := m.State(realm, a)
	t.Fatalf("gateway %s is %s, want %s (%+v)", a, st.State, want, st)
}

func TestMonitor(t *testing.T) {
	before := runtime.NumGoroutine()
	g1, g2 := netip.MustParseAddrPort("127.0.0.1:5090"), netip.MustParseAddrPort("127.0.0.2:5090")
	f := &fakeGateways{answer: map[netip.AddrPort]int{g1: 200, g2: 200}}
	var changes []Change
	var mu sync.Mutex
	m := NewMonitor(f.probe, func(c Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() }, slog.New(slog.DiscardHandler))
	check := policy.HealthCheckConfig{Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Failures: 2, Successes: 2}
	m.Update([]Target{
		{Trunk: "t", Realm: "core", Addr: g1, Check: check},
		{Trunk: "t", Realm: "core", Addr: g2, Check: check},
	})
	waitState(t, m, "core", g1, Up)
	waitState(t, m, "core", g2, Up)
	f.set(g1, 0) // stops answering
	waitState(t, m, "core", g1, Down)
	if m.InService("core", g1) || !m.InService("core", g2) || !m.InService("access", g1) {
		t.Error("InService disagrees with the states")
	}
	f.set(g1, 503)
	time.Sleep(100 * time.Millisecond)
	if st, _ := m.State("core", g1); st.State != Down || st.LastResult != "503" {
		t.Errorf("503 keeps a gateway down: %+v", st)
	}
	f.set(g1, 404)
	waitState(t, m, "core", g1, Up)
	snap := m.Snapshot()
	if len(snap) != 2 || snap[0].Addr != g1 || snap[0].LastResult != "404" {
		t.Errorf("snapshot %+v", snap)
	}
	// Dropping a gateway stops its probes; changing settings keeps the state.
	m.Update([]Target{{Trunk: "t", Realm: "core", Addr: g2, Check: policy.HealthCheckConfig{Interval: time.Hour, Timeout: time.Second, Failures: 1, Successes: 1}}})
	if _, ok := m.State("core", g1); ok {
		t.Error("dropped gateway still known")
	}
	if st, _ := m.State("core", g2); st.State != Up || st.Check.Interval != time.Hour {
		t.Errorf("updated gateway %+v", st)
	}
	m.Close()
	m.Close()
	mu.Lock()
	var seq []string
	for _, c := range changes {
		if c.Addr == g1 {
			seq = append(seq, c.From.String()+">"+c.To.String())
		}
	}
	mu.Unlock()
	if got := len(seq); got != 3 || seq[0] != "unknown>up" || seq[1] != "up>down" || seq[2] != "down>up" {
		t.Errorf("changes of g1 %v", seq)
	}
	n := f.probes.Load()
	time.Sleep(60 * time.Millisecond)
	if f.probes.Load() != n {
		t.Error("probes continue after Close")
	}
	for i := 0; i < 50 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Close, %d before", g, before)
	}
}

func TestQuality(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	q := NewQuality(func() time.Time { return now })
	cfg := policy.QualityConfig{Window: 10 * time.Minute, MinSamples: 4, MinMOS: 3.5, MinASR: 50, MaxPDD: 2 * time.Second, Hysteresis: 0.1}
	add := func(trunk string, n int, s Sample) {
		for range n {
			q.Record(trunk, s)
		}
	}
	good := Sample{At: now, Answered: true, MOS: 4.2, PDD: time.Second}
	add("a", 3, good)
	if j := q.Judge("r", "a", cfg); j.Judged || j.Degraded || j.Samples != 3 {
		t.Errorf("below min_samples: %+v", j)
	}
	add("a", 1, good)
	if j := q.Judge("r", "a", cfg); !j.Judged || j.Degraded || j.MOS != 4.2 || j.ASR != 100 || j.PDD != time.Second {
		t.Errorf("good trunk: %+v", j)
	}
	// Lossy calls pull the mean MOS below 3.5.
	add("a", 4, Sample{At: now, Answered: true, MOS: 2.6, PDD: time.Second})
	j := q.Judge("r", "a", cfg)
	if !j.Degraded || j.MOS < 3.39 || j.MOS > 3.41 {
		t.Errorf("degraded trunk: %+v", j)
	}
	if j := q.Judge("other-route", "a", cfg); !j.Degraded {
		t.Error("another route judges the same figures the same way")
	}
	// 3.6 is above the threshold but not above 3.5*1.1: still degraded.
	add("a", 2, Sample{At: now, Answered: true, MOS: 4.4})
	if j := q.Judge("r", "a", cfg); j.MOS < 3.5 || j.MOS >= 3.85 || !j.Degraded {
		t.Errorf("hysteresis keeps it degraded: %+v", j)
	}
	add("a", 10, Sample{At: now, Answered: true, MOS: 4.4})
	if j := q.Judge("r", "a", cfg); j.Degraded {
		t.Errorf("recovered trunk still degraded: %+v", j)
	}
	// ASR and PDD.
	add("b", 3, Sample{At: now})
	add("b", 2, Sample{At: now, Answered: true, MOS: 4.3, PDD: time.Second})
	if j := q.Judge("r", "b", cfg); !j.Degraded || j.ASR != 40 {
		t.Errorf("low ASR: %+v", j)
	}
	add("c", 5, Sample{At: now, Answered: true, MOS: 4.3, PDD: 3 * time.Second})
	if j := q.Judge("r", "c", cfg); !j.Degraded || j.PDD != 3*time.Second {
		t.Errorf("long PDD: %+v", j)
	}
	// The window forgets.
	now = now.Add(11 * time.Minute)
	if j := q.Judge("r", "c", cfg); j.Samples != 0 || j.Judged || j.Degraded {
		t.Errorf("after the window: %+v", j)
	}
	for range MaxSamples + 10 {
		q.Record("d", good)
	}
	if n := len(q.samples["d"]); n != MaxSamples {
		t.Errorf("%d samples kept, want %d", n, MaxSamples)
	}
}

func BenchmarkJudge(b *testing.B) {
	now := time.Now()
	q := NewQuality(func() time.Time { return now })
	for i := range 1000 {
		q.Record("a", Sample{At: now.Add(-time.Duration(i) * time.Second), Answered: i%3 != 0, MOS: 4.1, PDD: time.Second})
	}
	cfg := policy.QualityConfig{Window: 15 * time.Minute, MinSamples: 10, MinMOS: 3.5, Hysteresis: 0.1}
	b.ReportAllocs()
	for b.Loop() {
		if j := q.Judge("r", "a", cfg); !j.Judged {
			b.Fatal("not judged")
		}
	}
}

func BenchmarkInService(b *testing.B) {
	m := NewMonitor(func(ctx context.Context, _ Target) (int, error) { <-ctx.Done(); return 0, ctx.Err() }, nil, slog.New(slog.DiscardHandler))
	defer m.Close()
	var ts []Target
	for i := range 100 {
		ts = append(ts, Target{Trunk: "t", Realm: "core", Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), 5060),
			Check: policy.HealthCheckConfig{Interval: time.Hour, Timeout: time.Millisecond, Failures: 1, Successes: 1}})
	}
	m.Update(ts)
	a := ts[42].Addr
	b.ReportAllocs()
	in := 0
	for b.Loop() {
		if m.InService("core", a) {
			in++
		}
	}
	if in == 0 {
		b.Fatal("never in service")
	}
}
