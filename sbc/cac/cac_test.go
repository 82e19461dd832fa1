package cac

import (
	"errors"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAdmitConcurrent(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	a := New(clk.now)
	limits := []Limit{{Key: "realm:access"}, {Key: "trunk:pbx", MaxCalls: 2}}
	t1, r := a.Admit(limits, false)
	if r != nil {
		t.Fatal(r)
	}
	t2, r := a.Admit(limits, false)
	if r != nil {
		t.Fatal(r)
	}
	if _, r := a.Admit(limits, false); r == nil || !errors.Is(r, ErrCalls) || r.Key != "trunk:pbx" || r.RetryAfter <= 0 {
		t.Fatalf("third call: %v, want ErrCalls on trunk:pbx", r)
	}
	// A refused call counts nowhere.
	if n := a.Active("realm:access"); n != 2 {
		t.Fatalf("realm active = %d, want 2", n)
	}
	if !a.Full(limits[1]) {
		t.Fatal("trunk not full")
	}
	// Emergency calls are counted beyond the limit.
	t3, r := a.Admit(limits, true)
	if r != nil || a.Active("trunk:pbx") != 3 {
		t.Fatalf("forced: %v, active %d", r, a.Active("trunk:pbx"))
	}
	t1.Release()
	t1.Release() // idempotent
	t3.Release()
	if n := a.Active("trunk:pbx"); n != 1 {
		t.Fatalf("active after release = %d, want 1", n)
	}
	if _, r := a.Admit(limits, false); r != nil {
		t.Fatalf("after release: %v", r)
	}
	t2.Release()
	var nilTicket *Ticket
	nilTicket.Release()
}

func TestAdmitRate(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	a := New(clk.now)
	limits := []Limit{{Key: "account:a", MaxCPS: 2}}
	for i := range 2 {
		if tk, r := a.Admit(limits, false); r != nil {
			t.Fatalf("call %d: %v", i, r)
		} else {
			tk.Release()
		}
	}
	if _, r := a.Admit(limits, false); !errors.Is(r, ErrRate) {
		t.Fatalf("burst: %v, want ErrRate", r)
	}
	clk.t = clk.t.Add(500 * time.Millisecond) // one token back
	if _, r := a.Admit(limits, false); r != nil {
		t.Fatalf("after 0.5s: %v", r)
	}
	if _, r := a.Admit(limits, false); !errors.Is(r, ErrRate) {
		t.Fatalf("second after 0.5s: %v, want ErrRate", r)
	}
}

func TestFraud(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	f := NewFraud(clk.now)
	intl := &Rule{Name: "intl", CallsPerHour: 3, MaxCalls: 2, CostPerMinute: 1, MaxCostPerHour: 10}
	block := 30 * time.Minute

	t.Run("concurrent", func(t *testing.T) {
		a, b1 := f.Check("alice", intl, block)
		b, b2 := f.Check("alice", intl, block)
		if b1 != nil || b2 != nil {
			t.Fatal(b1, b2)
		}
		if _, br := f.Check("alice", intl, block); br == nil || !errors.Is(br, ErrFraud) || br.Limit != "max_calls" {
			t.Fatalf("third concurrent: %v", br)
		}
		// The breach blocks the account for everything, other rules and none.
		if _, br := f.Check("alice", nil, block); !errors.Is(br, ErrBlocked) {
			t.Fatalf("blocked account: %v", br)
		}
		if _, br := f.Check("bob", intl, block); br != nil {
			t.Fatalf("other account: %v", br)
		}
		a.End()
		b.End()
		clk.t = clk.t.Add(block)
		if f.Blocked("alice") != nil {
			t.Fatal("block did not expire")
		}
	})
	t.Run("per hour", func(t *testing.T) {
		f := NewFraud(clk.now)
		for i := range 3 {
			tk, br := f.Check("carol", intl, block)
			if br != nil {
				t.Fatalf("call %d: %v", i, br)
			}
			tk.End()
		}
		if _, br := f.Check("carol", intl, block); br == nil || br.Limit != "calls_per_hour" {
			t.Fatalf("fourth call: %v", br)
		}
		if !f.Unblock("carol") {
			t.Fatal("unblock")
		}
		clk.t = clk.t.Add(time.Hour + time.Second)
		if _, br := f.Check("carol", intl, block); br != nil {
			t.Fatalf("an hour later: %v", br)
		}
	})
	t.Run("cost", func(t *testing.T) {
		f := NewFraud(clk.now)
		tk, _ := f.Check("dave", intl, block)
		tk.Answered()
		clk.t = clk.t.Add(6 * time.Minute)
		tk.End()
		tk.End()
		if c := f.Cost("dave", "intl"); c < 5.99 || c > 6.01 {
			t.Fatalf("cost = %v, want 6", c)
		}
		// A call in progress counts with what it has cost so far.
		tk2, br := f.Check("dave", intl, block)
		if br != nil {
			t.Fatal(br)
		}
		tk2.Answered()
		clk.t = clk.t.Add(4 * time.Minute)
		if _, br := f.Check("dave", intl, block); br == nil || br.Limit != "max_cost_per_hour" {
			t.Fatalf("over budget: %v", br)
		}
		tk2.End()
	})
}

func BenchmarkAdmit(b *testing.B) {
	a := New(nil)
	limits := []Limit{{Key: "realm:access", MaxCalls: 1 << 30, MaxCPS: 1 << 30},
		{Key: "trunk:pbx", MaxCalls: 1 << 30, MaxCPS: 1 << 30}, {Key: "account:access:alice", MaxCalls: 1 << 30}}
	b.ReportAllocs()
	for b.Loop() {
		t, r := a.Admit(limits, false)
		if r != nil {
			b.Fatal(r)
		}
		t.Release()
	}
}

func BenchmarkFraudCheck(b *testing.B) {
	f := NewFraud(nil)
	r := &Rule{Name: "intl", MaxCalls: 1 << 30, CostPerMinute: 0.1, MaxCostPerHour: 1e9}
	b.ReportAllocs()
	for b.Loop() {
		t, br := f.Check("alice", r, time.Hour)
		if br != nil {
			b.Fatal(br)
		}
		t.End()
	}
}
