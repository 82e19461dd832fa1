package rtpengine

import "time"

// scanInterval is how often the timer looks for timed-out calls: a
// quarter of the shortest timeout, between 10 ms and 1 s.
func (e *Engine) scanInterval() time.Duration {
	d := min(e.cfg.Timeout, e.cfg.HoldTimeout) / 4
	return min(max(d, 10*time.Millisecond), time.Second)
}

// timeoutLoop is the engine's single timer goroutine.
func (e *Engine) timeoutLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.scanInterval())
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.scanTimeouts(monoNow())
		}
	}
}

// scanTimeouts reports every call whose media stopped for its timeout.
func (e *Engine) scanTimeouts(now int64) {
	e.mu.Lock()
	calls := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		if !c.timedOut.Load() {
			calls = append(calls, c)
		}
	}
	e.mu.Unlock()
	for _, c := range calls {
		last, hold := c.activity()
		limit := e.cfg.Timeout
		if hold {
			limit = e.cfg.HoldTimeout
		}
		if now-last < int64(limit) || !c.timedOut.CompareAndSwap(false, true) {
			continue
		}
		e.log.Info("media timeout", "call_id", c.id, "hold", hold, "timeout", limit)
		id := c.id
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer func() {
				if v := recover(); v != nil {
					e.log.Error("OnTimeout panicked", "call_id", id, "panic", v)
				}
			}()
			if e.cfg.OnTimeout != nil {
				e.cfg.OnTimeout(id)
			} else {
				_, _ = e.Delete(id, "")
			}
		}()
	}
}

// activity returns the time of the call's last media packet (or last
// offer/answer) and whether every stream is on hold.
func (c *call) activity() (last int64, hold bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last = c.lastSig.Load()
	hold = true
	streams := 0
	for _, m := range c.order {
		for i, ep := range m.eps {
			if ep == nil {
				continue
			}
			last = max(last, ep.c.lastRecv.Load())
			streams++
			onHold := ep.hold.Load()
			if m.other != nil && i < len(m.other.eps) && m.other.eps[i] != nil {
				onHold = onHold || m.other.eps[i].hold.Load()
			}
			hold = hold && onHold
		}
	}
	return last, hold && streams > 0
}
