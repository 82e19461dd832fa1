package cdr

import (
	"context"
	"errors"
	"testing"
)

type countSink struct {
	n   int
	err error
}

func (c *countSink) Write(context.Context, *Record) error { c.n++; return c.err }

func TestTee(t *testing.T) {
	boom := errors.New("boom")
	a, b := &countSink{}, &countSink{err: boom}
	s := Tee(a, nil, b)
	rec := sampleRecord("t")
	if err := s.Write(context.Background(), &rec); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if a.n != 1 || b.n != 1 {
		t.Fatalf("writes %d %d", a.n, b.n)
	}
	if err := Tee().Write(context.Background(), &rec); err != nil {
		t.Fatalf("empty tee: %v", err)
	}
}
