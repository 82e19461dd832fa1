package sbc

import (
	"context"
	"sort"
	"time"
)

// CallInfo describes a call in progress, for the admin API.
type CallInfo struct {
	// ID is sbcd's identifier (the media session's too).
	ID     string `json:"id"`
	Method string `json:"method"`
	State  string `json:"state"`
	Route  string `json:"route,omitempty"`
	// Caller and Callee are the users as received from the caller.
	Caller   string    `json:"caller"`
	Callee   string    `json:"callee"`
	Start    time.Time `json:"start"`
	Answered time.Time `json:"answered,omitzero"`
	Legs     []LegInfo `json:"legs"`
	Attempts int       `json:"attempts"`
	Hold     bool      `json:"hold"`
}

// LegInfo describes one leg of a call.
type LegInfo struct {
	Side      string `json:"side"`
	Realm     string `json:"realm"`
	CallID    string `json:"call_id"`
	Transport string `json:"transport"`
	// Peer is where sbcd sends this leg's requests.
	Peer      string `json:"peer"`
	Trunk     string `json:"trunk,omitempty"`
	Confirmed bool   `json:"confirmed"`
}

// evInfo asks a call's actor for its description.
type evInfo struct{ reply chan<- CallInfo }

var stateNames = map[callState]string{
	stateSetup: "setup", stateAnswered: "answered", stateConfirmed: "confirmed",
	stateEnding: "ending", stateEnded: "ended",
}

// info describes the call; it runs on the actor.
func (c *call) info() CallInfo {
	ci := CallInfo{ID: c.id, Method: string(c.method), State: stateNames[c.state], Route: c.route,
		Caller: c.callerIn, Callee: c.calleeIn, Start: c.start, Answered: c.answered,
		Attempts: c.attempt, Hold: c.hold}
	for _, l := range c.legs {
		if l == nil {
			continue
		}
		li := LegInfo{Side: l.side.String(), Realm: l.realm.name, CallID: l.callID,
			Transport: l.transport, Peer: l.dest, Confirmed: l.confirmed}
		if l.trunk != nil {
			li.Trunk = l.trunk.Name
		}
		if li.Peer == "" && l.remoteTarget.Host != "" {
			li.Peer = hostPort(&l.remoteTarget, l.transport)
		}
		ci.Legs = append(ci.Legs, li)
	}
	return ci
}

// Calls describes every call in progress, oldest first. Each call's actor
// answers for itself; a call too busy to answer before ctx ends is left out.
func (b *B2BUA) Calls(ctx context.Context) []CallInfo {
	calls := b.calls.all()
	ch := make(chan CallInfo, len(calls))
	for _, c := range calls {
		c.post(evInfo{reply: ch})
	}
	out := make([]CallInfo, 0, len(calls))
	for range calls {
		select {
		case ci := <-ch:
			if ci.State != "ended" {
				out = append(out, ci)
			}
		case <-ctx.Done():
			sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
			return out
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Call describes one call by its ID.
func (b *B2BUA) Call(ctx context.Context, id string) (CallInfo, bool) {
	c := b.calls.byMediaID(id)
	if c == nil {
		return CallInfo{}, false
	}
	ch := make(chan CallInfo, 1)
	c.post(evInfo{reply: ch})
	select {
	case ci := <-ch:
		return ci, ci.State != "ended"
	case <-ctx.Done():
		return CallInfo{}, false
	}
}

// HangupCall ends a call by its ID on an operator's request (BYE to both
// legs, or 503 to the caller while it is being set up). It reports
// whether the call existed.
func (b *B2BUA) HangupCall(id string) bool {
	c := b.calls.byMediaID(id)
	if c == nil {
		return false
	}
	c.post(evHangup{cause: "admin"})
	return true
}

// Registration is one registered contact.
type Registration struct {
	Realm     string    `json:"realm"`
	User      string    `json:"user"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Expires   time.Time `json:"expires"`
}

// RegistrationList lists the live registered contacts, by realm and user.
func (b *B2BUA) RegistrationList() []Registration {
	return b.reg.list()
}
