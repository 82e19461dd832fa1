package cdr

import (
	"context"
	"errors"
)

// Tee returns a Sink that writes each record to every sink in turn and
// returns their errors joined. Nil sinks are skipped.
func Tee(sinks ...Sink) Sink {
	var s tee
	for _, k := range sinks {
		if k != nil {
			s = append(s, k)
		}
	}
	return s
}

type tee []Sink

func (t tee) Write(ctx context.Context, rec *Record) error {
	var errs []error
	for _, s := range t {
		if err := s.Write(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
