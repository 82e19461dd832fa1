package sbc

import (
	"strings"
	"sync"
)

// registry indexes live calls by the dialogs of their legs.
//
// Legs whose Call-ID sbcd generated (B legs, and A legs of calls sbcd
// originates towards a caller) are indexed by realm and Call-ID alone; legs
// whose Call-ID the peer chose are indexed by realm, Call-ID and the peer's
// tag, so two peers reusing a Call-ID cannot collide.
//
// Calls are listed by their ID (the media session's) alone.
type registry struct {
	mu    sync.RWMutex
	legs  map[string]legRef
	media map[string]*call
}

type legRef struct {
	c    *call
	side Side
}

func newRegistry() *registry {
	return &registry{
		legs:  make(map[string]legRef),
		media: make(map[string]*call),
	}
}

func legKey(realm, callID, tag string) string {
	return realm + "\x00" + callID + "\x00" + tag
}

// branchRealm is the key space of B legs' INVITEs by Via branch (for loop
// detection while a call is set up).
const branchRealm = "\x00branch"

func isBranchKey(k string) bool {
	return strings.HasPrefix(k, branchRealm+"\x00")
}

func (r *registry) add(c *call) {
	r.mu.Lock()
	r.media[c.id] = c
	r.mu.Unlock()
}

// bind indexes a leg under key (see legKey).
func (r *registry) bind(key string, c *call, side Side) {
	r.mu.Lock()
	r.legs[key] = legRef{c: c, side: side}
	r.mu.Unlock()
}

func (r *registry) unbind(keys ...string) {
	r.mu.Lock()
	for _, k := range keys {
		delete(r.legs, k)
	}
	r.mu.Unlock()
}

func (r *registry) remove(c *call, keys []string) {
	r.mu.Lock()
	if r.media[c.id] == c {
		delete(r.media, c.id)
	}
	for _, k := range keys {
		if ref, ok := r.legs[k]; ok && ref.c == c {
			delete(r.legs, k)
		}
	}
	r.mu.Unlock()
}

// find looks a message up by its Call-ID and the peer's tag (From tag of a
// request, To tag of a response).
func (r *registry) find(realm, callID, peerTag string) (*call, Side) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if ref, ok := r.legs[legKey(realm, callID, "")]; ok {
		return ref.c, ref.side
	}
	if ref, ok := r.legs[legKey(realm, callID, peerTag)]; ok {
		return ref.c, ref.side
	}
	return nil, SideA
}

func (r *registry) byMediaID(id string) *call {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.media[id]
}

func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.media)
}

func (r *registry) all() []*call {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*call, 0, len(r.media))
	for _, c := range r.media {
		out = append(out, c)
	}
	return out
}
