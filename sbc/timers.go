package sbc

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

type timerKind int

const (
	timerInvite         timerKind = iota // the current B attempt got no final answer in time
	timerFlush                           // a CSeq gap did not fill in time
	timer2xx                             // retransmit a 2xx until ACK (RFC 3261 13.3.1.4)
	timerSessionRefresh                  // sbcd refreshes a leg's session (RFC 4028)
	timerSessionExpire                   // the peer did not refresh its session
	timerEnding                          // give up waiting for a cancelled B leg
	timerSetup                           // the route's setup_timeout over all attempts ran out
)

// T1 and T2 are the RFC 3261 timer values sbcd uses for 2xx retransmission.
const (
	t1 = 500 * time.Millisecond
	t2 = 4 * time.Second
)

func timerKey(k timerKind, s Side) timerKind { return k*2 + timerKind(s) }

// callTimer is one armed timer of a call; gen tells a superseded timer's
// event from the current one. The entry is queued in the B2BUA's timer
// queue.
type callTimer struct {
	key timerKind
	gen uint64
	e   *timerEntry
}

// after (re)arms a per-call timer; a superseded timer's event is ignored.
func (c *call) after(k timerKind, s Side, d time.Duration) {
	key := timerKey(k, s)
	c.timerGen++
	gen := c.timerGen
	for i := range c.timers {
		if c.timers[i].key == key {
			c.timers[i].gen = gen
			c.b.timers.arm(c.timers[i].e, d, gen)
			return
		}
	}
	e := &timerEntry{c: c, kind: k, side: s, idx: -1}
	c.timers = append(c.timers, callTimer{key: key, gen: gen, e: e})
	c.b.timers.arm(e, d, gen)
}

// stop disarms a timer on both sides.
func (c *call) stop(k timerKind) {
	for s := SideA; s <= SideB; s++ {
		c.disarm(timerKey(k, s))
	}
}

// disarm forgets the timer under key (taking it out of the queue if it
// has not fired).
func (c *call) disarm(key timerKind) {
	for i := range c.timers {
		if c.timers[i].key == key {
			c.b.timers.cancel(c.timers[i].e)
			last := len(c.timers) - 1
			c.timers[i] = c.timers[last]
			c.timers[last] = callTimer{}
			c.timers = c.timers[:last]
			return
		}
	}
}

// stopAll disarms every timer of the call.
func (c *call) stopAll() {
	for i := range c.timers {
		c.b.timers.cancel(c.timers[i].e)
		c.timers[i] = callTimer{}
	}
	c.timers = nil
}

func (c *call) onTimer(e evTimer) {
	key := timerKey(e.kind, e.side)
	current := false
	for i := range c.timers {
		if c.timers[i].key == key {
			current = c.timers[i].gen == e.gen
			break
		}
	}
	if !current {
		return
	}
	c.disarm(key)
	switch e.kind {
	case timerInvite:
		if c.state != stateSetup {
			return
		}
		c.log.Info("attempt got no answer", "attempt", c.attempt)
		c.cancelAttempt()
		c.nextAttempt(408)
	case timerSetup:
		if c.state != stateSetup {
			return
		}
		c.log.Info("call setup timed out", "attempt", c.attempt)
		c.cancelAttempt()
		c.targets = nil
		c.exhausted(408)
	case timerFlush:
		c.flushHeld(e.side, true)
	case timer2xx:
		c.resend2xx(e.side)
	case timerSessionRefresh:
		c.refreshSession(e.side)
	case timerSessionExpire:
		c.log.Info("session expired without refresh", "leg", e.side.String())
		c.teardown("session_expired", c.status)
	case timerEnding:
		c.finish(c.cause, c.status)
	}
}

// retransmit2xx keeps sending a 2xx on an unreliable transport until the
// peer ACKs it, doubling from T1 up to T2, for 64*T1.
func (c *call) retransmit2xx(s Side, res *sip.Response, conn sip.Connection) {
	if conn == nil || sip.IsReliable(res.Transport()) {
		return
	}
	c.ok[s] = &retrans{res: res, conn: conn, interval: t1, giveUp: time.Now().Add(64 * t1)}
	c.after(timer2xx, s, t1)
}

func (c *call) resend2xx(s Side) {
	ok := c.ok[s]
	if ok == nil {
		return
	}
	res := ok.res
	if time.Now().After(ok.giveUp) {
		c.ok[s] = nil
		c.log.Warn("no ACK for 2xx", "leg", s.String())
		if c.state == stateAnswered {
			c.teardown("no_ack", c.status)
		}
		return
	}
	c.legs[s].realm.observe(Out, res)
	_ = ok.conn.WriteMsg(res)
	ok.interval = min(2*ok.interval, t2)
	c.after(timer2xx, s, ok.interval)
}

// sessionTimer reads the session interval leg B's 2xx settled on. sbcd
// refreshes unless B took the refresher role.
func (c *call) sessionTimer(b *leg, res *sip.Response) {
	se, refresher := parseSessionExpires(headerValue(res, "Session-Expires"))
	if se == 0 {
		se = c.sessionExpires()
		refresher = "uac"
	}
	b.sessionExpires = se
	if refresher == "uas" {
		b.peerRefreshes = true
		c.after(timerSessionExpire, SideB, se)
		return
	}
	c.after(timerSessionRefresh, SideB, se/2)
}

// addSessionExpires answers a caller that asked for session timers: the
// caller refreshes, and sbcd ends the call if it stops doing so.
func (c *call) addSessionExpires(a *leg, res *sip.Response) {
	se, _ := parseSessionExpires(headerValue(a.invite, "Session-Expires"))
	if se == 0 || !hasOption(a.invite, "Supported", "timer") {
		return
	}
	if min := 90 * time.Second; se < min {
		se = min
	}
	a.sessionExpires = se
	a.peerRefreshes = true
	res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se.Seconds()))+";refresher=uac"))
	res.AppendHeader(sip.NewHeader("Require", "timer"))
	c.after(timerSessionExpire, SideA, se)
}

// refreshed notes a session refresh on a leg (a re-INVITE or UPDATE crossed it).
func (c *call) refreshed(s Side) {
	l := c.legs[s]
	if l == nil || l.sessionExpires == 0 {
		return
	}
	if l.peerRefreshes {
		c.after(timerSessionExpire, s, l.sessionExpires)
		return
	}
	c.after(timerSessionRefresh, s, l.sessionExpires/2)
}

// refreshSession sends sbcd's own refresh: UPDATE where the peer allows
// it, else a re-INVITE with the SDP last sent on the leg.
func (c *call) refreshSession(s Side) {
	l := c.legs[s]
	if l == nil || !l.confirmed || c.state == stateEnded {
		return
	}
	if c.reinvite {
		c.after(timerSessionRefresh, s, 2*time.Second)
		return
	}
	method := sip.INVITE
	var body []byte
	if strings.Contains(strings.ToUpper(l.allow), "UPDATE") {
		method = sip.UPDATE
	} else {
		body = l.sdp
	}
	req := l.request(method, body, "application/sdp")
	req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(l.sessionExpires.Seconds()))+";refresher=uac"))
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	if method == sip.INVITE {
		c.reinvite = true
	}
	c.track(l, req, &pending{method: method, refresh: true, withSDP: body != nil})
	c.after(timerSessionRefresh, s, l.sessionExpires/2)
}

// parseSessionExpires reads "1800;refresher=uac".
func parseSessionExpires(v string) (time.Duration, string) {
	if v == "" {
		return 0, ""
	}
	parts := strings.Split(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n <= 0 {
		return 0, ""
	}
	refresher := ""
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(val))
		}
	}
	return time.Duration(n) * time.Second, refresher
}
