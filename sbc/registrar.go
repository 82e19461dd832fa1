package sbc

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Registration limits.
const (
	defaultExpires = 3600
	maxExpires     = 7200
	minExpires     = 60
	maxBindings    = 10
)

// binding is one registered contact of a user.
type binding struct {
	contact   sip.Uri
	source    string // where the REGISTER came from (NAT-safe target)
	transport string
	expires   time.Time
	// callID is the Call-ID of the REGISTER that made the binding.
	callID string
	// flow: registered over a TCP/TLS connection sbcd holds; the binding
	// ends with the connection (not set on bindings restored at start).
	flow bool
}

// registrar keeps the bindings of users registered in realms that act as
// registrar, in memory.
type registrar struct {
	mu    sync.RWMutex
	users map[string][]binding // realm \x00 user
	done  chan struct{}
	once  sync.Once
	// changed, when set, is told after every update (persistence).
	changed func()
}

func newRegistrar() *registrar {
	return &registrar{users: make(map[string][]binding), done: make(chan struct{})}
}

func (r *registrar) close() { r.once.Do(func() { close(r.done) }) }

func (r *registrar) lookup(realm, user string) []binding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := time.Now()
	var out []binding
	for _, b := range r.users[realm+"\x00"+user] {
		if b.expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// list gives the live bindings, sorted by realm and user.
func (r *registrar) list() []Registration {
	r.mu.RLock()
	now := time.Now()
	var out []Registration
	for key, bs := range r.users {
		realm, user, _ := strings.Cut(key, "\x00")
		for _, b := range bs {
			if b.expires.After(now) {
				out = append(out, Registration{Realm: realm, User: user, Contact: b.contact.String(),
					Source: b.source, Transport: b.transport, Expires: b.expires.UTC()})
			}
		}
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Realm != out[j].Realm {
			return out[i].Realm < out[j].Realm
		}
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Contact < out[j].Contact
	})
	return out
}

// count gives the number of live bindings.
func (r *registrar) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now, n := time.Now(), 0
	for _, bs := range r.users {
		for _, b := range bs {
			if b.expires.After(now) {
				n++
			}
		}
	}
	return n
}

// update applies one REGISTER and returns the user's bindings.
func (r *registrar) update(realm, user string, add []binding, remove []sip.Uri, removeAll bool) []binding {
	key := realm + "\x00" + user
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.users[key]
	if removeAll {
		cur = nil
	}
	now := time.Now()
	keep := cur[:0]
	for _, b := range cur {
		drop := !b.expires.After(now)
		for _, u := range remove {
			if sameContact(b.contact, u) {
				drop = true
			}
		}
		for _, n := range add {
			if sameContact(b.contact, n.contact) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, b)
		}
	}
	keep = append(keep, add...)
	if len(keep) > maxBindings {
		keep = keep[len(keep)-maxBindings:]
	}
	if len(keep) == 0 {
		delete(r.users, key)
	} else {
		r.users[key] = keep
	}
	if r.changed != nil {
		r.changed()
	}
	return append([]binding(nil), keep...)
}

// wouldHold counts the live bindings a user would have after a REGISTER.
func (r *registrar) wouldHold(realm, user string, add []binding, remove []sip.Uri, removeAll bool) int {
	n := len(add)
	if removeAll {
		return n
	}
	for _, b := range r.lookup(realm, user) {
		keep := true
		for _, u := range remove {
			keep = keep && !sameContact(b.contact, u)
		}
		for _, a := range add {
			keep = keep && !sameContact(b.contact, a.contact)
		}
		if keep {
			n++
		}
	}
	return n
}

// dropSource removes the bindings that were registered over the connection
// from source (a closed WebSocket flow) and returns how many it removed.
func (r *registrar) dropSource(realm, transport, source string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, bs := range r.users {
		if !strings.HasPrefix(k, realm+"\x00") {
			continue
		}
		keep := bs[:0]
		for _, b := range bs {
			if b.source == source && strings.EqualFold(b.transport, transport) {
				n++
				continue
			}
			keep = append(keep, b)
		}
		if len(keep) == 0 {
			delete(r.users, k)
		} else {
			r.users[k] = keep
		}
	}
	if n > 0 && r.changed != nil {
		r.changed()
	}
	return n
}

// expireLoop removes expired bindings once a minute until done.
func (r *registrar) expireLoop(done <-chan struct{}) func() {
	return func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				now := time.Now()
				r.mu.Lock()
				for k, bs := range r.users {
					keep := bs[:0]
					for _, b := range bs {
						if b.expires.After(now) {
							keep = append(keep, b)
						}
					}
					if len(keep) == 0 {
						delete(r.users, k)
					} else {
						r.users[k] = keep
					}
				}
				r.mu.Unlock()
			}
		}
	}
}

func sameContact(a, b sip.Uri) bool {
	return a.User == b.User && strings.EqualFold(a.Host, b.Host) && a.Port == b.Port
}

// register answers REGISTER in a realm that is a registrar.
func (b *B2BUA) register(r *realm, req *sip.Request, tx *serverTx) {
	pr := b.pol.Load().Realm(r.name)
	if pr == nil || !pr.Registrar {
		respondStateless(tx, req, 403, "not_registrar")
		return
	}
	if pr.Registration.Forward != "" {
		b.forwardRegister(r, pr, req, tx)
		return
	}
	user := req.To().Address.User
	if user == "" {
		respondStateless(tx, req, 400, "bad_request")
		return
	}
	if tx.account != "" && tx.account != user {
		// An account registers its own address of record only.
		respondStateless(tx, req, 403, "auth_user_mismatch")
		return
	}
	expires := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			expires = n
		}
	}
	var add []binding
	var remove []sip.Uri
	removeAll := false
	for _, h := range req.GetHeaders("Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		e := expires
		if v, ok := ct.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				e = n
			}
		}
		if ct.Address.Wildcard {
			if e != 0 {
				respondStateless(tx, req, 400, "bad_request")
				return
			}
			removeAll = true
			continue
		}
		if e == 0 {
			remove = append(remove, ct.Address)
			continue
		}
		if lo := clientMinExpires(pr); e < lo {
			res := newResponse(req, 423)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(lo)))
			_ = tx.Respond(res)
			return
		}
		e = min(e, maxExpires)
		if ce := int(pr.Registration.ClientExpires / time.Second); ce > 0 {
			e = min(e, ce)
		}
		add = append(add, binding{
			contact:   *ct.Address.Clone(),
			source:    req.Source(),
			transport: req.Transport(),
			expires:   time.Now().Add(time.Duration(e) * time.Second),
			callID:    req.CallID().Value(),
			flow:      isStream(req.Transport()),
		})
	}
	if acc := pr.Auth.Account(tx.account); acc != nil && acc.MaxRegistrations > 0 &&
		b.reg.wouldHold(r.name, user, add, remove, removeAll) > acc.MaxRegistrations {
		res := newResponse(req, 403)
		res.AppendHeader(sip.NewHeader("Reason", `SIP ;cause=403 ;text="Registration limit of `+strconv.Itoa(acc.MaxRegistrations)+` contacts reached"`))
		b.obs.Rejected(r.name, req.Method, "registration_limit")
		_ = tx.Respond(res)
		return
	}
	bs := b.reg.update(r.name, user, add, remove, removeAll)
	res := newResponse(req, 200)
	now := time.Now()
	for _, bd := range bs {
		ct := &sip.ContactHeader{Address: bd.contact, Params: sip.NewParams()}
		ct.Params.Add("expires", strconv.Itoa(int(bd.expires.Sub(now).Seconds()+0.5)))
		res.AppendHeader(ct)
	}
	_ = tx.Respond(res)
}

// options answers OPTIONS outside a dialog: sbcd answers for itself.
func (b *B2BUA) options(r *realm, req *sip.Request, tx *serverTx) {
	res := newResponse(req, 200)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", "timer, 100rel"))
	_ = tx.Respond(res)
}

// outOfDialog handles requests that create no INVITE dialog.
func (b *B2BUA) outOfDialog(r *realm, req *sip.Request, tx *serverTx) {
	switch req.Method {
	case sip.BYE, sip.INFO, sip.UPDATE, sip.PRACK, sip.REFER:
		// These only make sense within a dialog sbcd knows.
		respondStateless(tx, req, 481, "no_dialog")
	default:
		b.newTransaction(r, req, tx)
	}
}
