package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/openborder/openborder/firmware/capture"
	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc"
)

// reloadCaptureRules applies a reloaded policy's capture rules.
var reloadCaptureRules = func(*policy.Set) {}

// captureRules runs the policy's capture rules: one capture per rule,
// started again when it ends (duration, size), until sbcd stops or a
// reload drops the rule.
type captureRules struct {
	s     *captureSink
	calls func(context.Context) []sbc.CallInfo
	log   *slog.Logger

	mu     sync.Mutex
	rules  []policy.CaptureRule
	ids    []string // running capture of each rule; "" when none
	warned []bool   // a failed start of the rule was logged

	stop chan struct{}
	done chan struct{}
}

// startCaptureRules starts the rules' captures and the goroutine that
// renews them. It returns nil when captures are off.
func startCaptureRules(s *captureSink, rules []policy.CaptureRule, calls func(context.Context) []sbc.CallInfo, log *slog.Logger) *captureRules {
	if s == nil || s.cap == nil {
		return nil
	}
	r := &captureRules{s: s, calls: calls, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	r.apply(rules)
	go r.run()
	return r
}

func (r *captureRules) run() {
	defer close(r.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.renew()
		}
	}
}

// apply replaces the rules (at start and on reload): captures of rules
// that are gone or changed stop, new rules start.
func (r *captureRules) apply(rules []policy.CaptureRule) {
	r.mu.Lock()
	ids := make([]string, len(rules))
	for i, old := range r.rules {
		if r.ids[i] == "" {
			continue
		}
		if j := slices.Index(rules, old); j >= 0 && ids[j] == "" {
			ids[j] = r.ids[i]
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := r.s.cap.Stop(ctx, r.ids[i]); err != nil {
			r.log.Warn("capture rule: stop", "filter", old.Filter, "err", err)
		}
		cancel()
	}
	r.rules, r.ids, r.warned = slices.Clone(rules), ids, make([]bool, len(rules))
	r.mu.Unlock()
	r.renew()
}

// renew starts the capture of every rule whose capture is not running.
func (r *captureRules) renew() {
	r.mu.Lock()
	defer r.mu.Unlock()
	started := false
	for i, rule := range r.rules {
		if r.ids[i] != "" && r.s.cap.Running(r.ids[i]) {
			continue
		}
		r.ids[i] = ""
		f, err := capture.ParseFilter(rule.Filter)
		if err != nil { // the policy was validated; not reached
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		id, err := r.s.cap.Start(ctx, f, capture.Limits{Duration: rule.Duration, Bytes: rule.MaxBytes})
		cancel()
		if err != nil {
			if !r.warned[i] { // once until it starts again
				r.log.Warn("capture rule: start", "filter", rule.Filter, "err", err)
				r.warned[i] = true
			}
			continue
		}
		r.ids[i], r.warned[i], started = id, false, true
	}
	if started && r.calls != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r.s.startFor(r.calls(ctx))
		cancel()
	}
}

// Close stops renewing; the running captures end with the Capturer.
func (r *captureRules) Close() {
	if r == nil {
		return
	}
	close(r.stop)
	<-r.done
}
