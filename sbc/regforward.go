package sbc

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// upstreamTimeout bounds one REGISTER relayed to a core registrar.
const upstreamTimeout = 10 * time.Second

// upstreamReg is sbcd's registration of one user with the core registrar
// (registration forwarding): one Call-ID and CSeq space per user, and when
// it ends.
type upstreamReg struct {
	trunk   string
	callID  string
	cseq    uint32
	expires time.Time
	granted time.Duration
	// noPath: the registrar refused Path (420); contact rewriting instead.
	noPath bool
}

// fresh reports whether the upstream registration has more than half of
// its granted lifetime left: refreshes can be answered from the cache.
func (u *upstreamReg) fresh(now time.Time) bool {
	return u != nil && u.granted > 0 && u.expires.Sub(now) > u.granted/2
}

// forwarder keeps the upstream registrations of forwarding realms.
type forwarder struct {
	mu  sync.Mutex
	aor map[string]*upstreamReg // realm \x00 user
}

func newForwarder() *forwarder { return &forwarder{aor: make(map[string]*upstreamReg)} }

// get returns a copy of the user's upstream state (nil: none).
func (f *forwarder) get(key string) *upstreamReg {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.aor[key]; u != nil {
		c := *u
		return &c
	}
	return nil
}

// next reserves the Call-ID and CSeq of the user's next upstream REGISTER.
func (f *forwarder) next(key, trunk string) (string, uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.aor[key]
	if u == nil || u.trunk != trunk {
		u = &upstreamReg{trunk: trunk, callID: sip.GenerateTagN(24)}
		f.aor[key] = u
	}
	u.cseq++
	return u.callID, u.cseq
}

// refusePath remembers that the registrar does not take Path for a user.
func (f *forwarder) refusePath(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.aor[key]; u != nil {
		u.noPath = true
	}
}

// granted records the upstream registration's new lifetime (0: ended).
func (f *forwarder) granted(key string, d time.Duration, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.aor[key]
	if u == nil {
		return
	}
	if d <= 0 {
		delete(f.aor, key)
		return
	}
	u.granted, u.expires = d, now.Add(d)
}

// orphans removes and returns the users whose upstream registration is
// still alive although no local binding is left (the phone went away), and
// forgets expired ones.
func (f *forwarder) orphans(now time.Time, live func(realm, user string) bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for key, u := range f.aor {
		if u.granted == 0 {
			continue // a first REGISTER is on its way
		}
		if !u.expires.After(now) {
			delete(f.aor, key)
			continue
		}
		realm, user, _ := cutKey(key)
		if !live(realm, user) {
			out = append(out, key)
		}
	}
	return out
}

// clientMinExpires is the shortest registration a realm accepts: the
// registrar's minimum, or client_expires when that is shorter.
func clientMinExpires(pr *policy.Realm) int {
	if ce := int(pr.Registration.ClientExpires / time.Second); ce > 0 && ce < minExpires {
		return ce
	}
	return minExpires
}

// registerChange is what one REGISTER asks for.
type registerChange struct {
	add       []binding
	remove    []sip.Uri
	removeAll bool
}

// parseRegister reads the Contacts and expiry of a REGISTER; cap limits
// the lifetime granted (seconds, 0: no cap). A refusal comes back as a
// response code (and for 423 the Min-Expires to announce).
func parseRegister(req *sip.Request, capSec int) (registerChange, int) {
	var ch registerChange
	expires := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return ch, 400
		}
		expires = n
	}
	minExp := minExpires
	if capSec > 0 && capSec < minExp {
		minExp = capSec
	}
	now := time.Now()
	for _, h := range req.GetHeaders("Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		e := expires
		if v, ok := ct.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return ch, 400
			}
			e = n
		}
		if ct.Address.Wildcard {
			if e != 0 {
				return ch, 400
			}
			ch.removeAll = true
			continue
		}
		if e == 0 {
			ch.remove = append(ch.remove, ct.Address)
			continue
		}
		if e < minExp {
			return ch, 423
		}
		e = min(e, maxExpires)
		if capSec > 0 {
			e = min(e, capSec)
		}
		ch.add = append(ch.add, binding{contact: *ct.Address.Clone(), source: req.Source(), transport: req.Transport(),
			expires: now.Add(time.Duration(e) * time.Second), callID: req.CallID().Value(), flow: isStream(req.Transport())})
	}
	return ch, 0
}

// after lists the contacts a user keeps once ch is applied to cur.
func (ch registerChange) after(cur []binding) []binding {
	out := append([]binding(nil), ch.add...)
	if ch.removeAll {
		return out
	}
	for _, b := range cur {
		gone := false
		for _, u := range ch.remove {
			gone = gone || sameContact(b.contact, u)
		}
		for _, a := range ch.add {
			gone = gone || sameContact(b.contact, a.contact)
		}
		if !gone {
			out = append(out, b)
		}
	}
	return out
}

// refreshOnly reports whether ch only refreshes bindings the user already
// has, from the same source and with the same Call-ID: a re-REGISTER the
// cache may answer. Anything new goes to the registrar, which decides
// (and authenticates).
func (ch registerChange) refreshOnly(cur []binding) bool {
	if ch.removeAll || len(ch.remove) > 0 || len(ch.add) == 0 {
		return false
	}
	for _, a := range ch.add {
		known := false
		for _, b := range cur {
			if sameContact(a.contact, b.contact) && a.source == b.source && a.callID == b.callID && a.transport == b.transport {
				known = true
				break
			}
		}
		if !known {
			return false
		}
	}
	return true
}

// forwardRegister handles REGISTER in a realm that forwards to a core
// registrar: refreshes of a registration that is fresh upstream are
// answered from the cache; anything else is relayed with sbcd's Contact and
// applied locally once the registrar accepts it.
func (b *B2BUA) forwardRegister(r *realm, pr *policy.Realm, req *sip.Request, tx *serverTx) {
	g := pr.Registration
	user := req.To().Address.User
	if user == "" {
		respondStateless(tx, req, 400, "bad_request")
		return
	}
	if tx.account != "" && tx.account != user {
		// Authenticated by sbcd: an account registers its own address of record only.
		respondStateless(tx, req, 403, "auth_user_mismatch")
		return
	}
	pol := b.pol.Load()
	t := pol.Trunk(g.Forward)
	var cr *realm
	if t != nil && len(t.Gateways) > 0 {
		cr = b.realms[t.Realm.Name]
	}
	if cr == nil {
		respondStateless(tx, req, 503, "no_registrar")
		return
	}
	ch, code := parseRegister(req, int(g.ClientExpires/time.Second))
	if code != 0 {
		res := newResponse(req, code)
		if code == 423 {
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(clientMinExpires(pr))))
		}
		b.obs.Rejected(r.name, req.Method, "bad_register")
		_ = tx.Respond(res)
		return
	}
	key := r.name + "\x00" + user
	cur := b.reg.lookup(r.name, user)
	now := time.Now()
	if len(ch.add) == 0 && len(ch.remove) == 0 && !ch.removeAll {
		// A query: the bindings sbcd holds.
		b.registered(req, tx, cur)
		return
	}
	if ch.refreshOnly(cur) && b.fwd.get(key).fresh(now) {
		b.registered(req, tx, b.reg.update(r.name, user, ch.add, nil, false))
		return
	}
	upExp := g.UpstreamExpires
	keep := ch.after(cur)
	left := len(keep)
	if left == 0 {
		upExp = 0
	}
	usePath := g.ForwardMode == "path"
	if u := b.fwd.get(key); u != nil && u.noPath {
		usePath = false
	}
	var res *sip.Response
	var err error
	for {
		callID, seq := b.fwd.next(key, t.Name)
		up := upstreamRequest(cr, t, req, user, upExp, callID, seq)
		if usePath {
			withPath(up, cr, r.name, user, keep, upExp)
		}
		ctx, cancel := context.WithTimeout(context.Background(), upstreamTimeout)
		res, err = cr.transact(ctx, up)
		cancel()
		if err == nil && usePath && res.StatusCode == 420 && hasOption(res, "Unsupported", "path") {
			// RFC 3327 5.2: the registrar does not do Path; rewrite the
			// Contact for this user from now on.
			r.log.Warn("registrar refuses Path; using contact rewriting", "user", user, "registrar", t.Name)
			b.fwd.refusePath(key)
			usePath = false
			continue
		}
		break
	}
	log := r.log.With("user", user, "registrar", t.Name)
	switch {
	case err != nil:
		log.Warn("REGISTER not forwarded", "err", err)
		if left == 0 {
			// The user leaves either way; the registrar's binding expires.
			b.fwd.granted(key, 0, now)
			b.registered(req, tx, b.reg.update(r.name, user, ch.add, ch.remove, ch.removeAll))
			return
		}
		respondStateless(tx, req, 504, "registrar_unreachable")
	case res.IsSuccess():
		// Local bindings first: the sweeper must never see a fresh
		// upstream registration without them.
		bs := b.reg.update(r.name, user, ch.add, ch.remove, ch.removeAll)
		granted := time.Duration(0)
		if upExp > 0 {
			mine := sbcContact(cr, user)
			if usePath {
				mine = anyContact(keep)
				if res.GetHeader("Path") == nil {
					// RFC 3327 5.3: a registrar that stores the Path echoes it.
					log.Warn("registrar did not echo Path; calls for the user may not come back through sbcd")
				}
			}
			granted = grantedExpiry(res, mine, upExp)
		}
		b.fwd.granted(key, granted, time.Now())
		log.Debug("REGISTER forwarded", "status", res.StatusCode, "bindings", left)
		b.registered(req, tx, bs)
	default:
		log.Debug("REGISTER refused upstream", "status", res.StatusCode)
		out := newResponse(req, res.StatusCode)
		if res.Reason != "" {
			out.Reason = res.Reason
		}
		for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate", "Retry-After"} {
			for _, h := range res.GetHeaders(name) {
				out.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
			}
		}
		b.obs.Rejected(r.name, req.Method, "registrar_refused")
		_ = tx.Respond(out)
	}
}

// registered answers a REGISTER with the user's bindings.
func (b *B2BUA) registered(req *sip.Request, tx *serverTx, bs []binding) {
	res := newResponse(req, 200)
	now := time.Now()
	for _, bd := range bs {
		if !bd.expires.After(now) {
			continue
		}
		ct := &sip.ContactHeader{Address: bd.contact, Params: sip.NewParams()}
		ct.Params.Add("expires", strconv.Itoa(int(bd.expires.Sub(now).Seconds()+0.5)))
		res.AppendHeader(ct)
	}
	_ = tx.Respond(res)
}

// upstreamRequest builds the REGISTER sbcd sends to the core registrar for
// a user: sbcd's own Contact in the core realm, the user's credentials
// passed on, nothing else of the access side.
func upstreamRequest(cr *realm, t *policy.Trunk, orig *sip.Request, user string, expires time.Duration, callID string, seq uint32) *sip.Request {
	gw := t.Gateways[0]
	tp := cr.transportFor(gw.Transport)
	domain := orig.Recipient.Host
	ruri := sip.Uri{Scheme: "sip", Host: domain}
	if _, err := netip.ParseAddr(strings.Trim(domain, "[]")); err != nil && domain != "" {
		// A domain name is the user's service domain: keep it.
	} else {
		domain = gw.Addr.Addr().String()
		ruri = sip.Uri{Scheme: "sip", Host: domain, Port: int(gw.Addr.Port())}
	}
	aor := sip.Uri{Scheme: "sip", User: user, Host: domain}
	req := sip.NewRequest(sip.REGISTER, ruri)
	req.AppendHeader(cr.via(tp, sip.GenerateBranch()))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *aor.Clone(), Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.REGISTER})
	ct := cr.contact(tp)
	ct.Address.User = user
	req.AppendHeader(ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, h := range orig.GetHeaders(name) {
			req.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
	req.SetBody(nil)
	req.SetTransport(tp)
	req.Laddr = cr.laddr(tp)
	req.SetDestination(gw.Addr.String())
	return req
}

// sbcContact matches sbcd's own Contact for user in realm cr.
func sbcContact(cr *realm, user string) func(sip.Uri) bool {
	return func(u sip.Uri) bool {
		return u.User == user && strings.EqualFold(strings.Trim(u.Host, "[]"), strings.Trim(cr.host, "[]"))
	}
}

// anyContact matches one of the bindings' contacts.
func anyContact(bs []binding) func(sip.Uri) bool {
	return func(u sip.Uri) bool {
		for _, b := range bs {
			if sameContact(b.contact, u) {
				return true
			}
		}
		return false
	}
}

// withPath turns a forwarded REGISTER into its Path form: the phone's own
// contacts (or * when the user leaves), sbcd's Path and Supported: path.
func withPath(req *sip.Request, cr *realm, realmName, user string, keep []binding, expires time.Duration) {
	req.RemoveHeader("Contact")
	if expires == 0 {
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Wildcard: true}})
	} else {
		for _, b := range keep {
			req.AppendHeader(&sip.ContactHeader{Address: *b.contact.Clone()})
		}
	}
	req.AppendHeader(pathHeader(cr, req.Transport(), realmName, user))
	req.AppendHeader(sip.NewHeader("Supported", "path"))
}

// grantedExpiry is the lifetime a registrar granted the Contact mine
// matches in a 2xx: the Contact's expires parameter, else Expires, else
// what was asked.
func grantedExpiry(res *sip.Response, mine func(sip.Uri) bool, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok || !mine(ct.Address) {
			continue
		}
		if v, ok := ct.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// sweepUpstream un-registers upstream the users whose phones stopped
// refreshing (no local binding left).
func (b *B2BUA) sweepUpstream(now time.Time) {
	pol := b.pol.Load()
	for _, key := range b.fwd.orphans(now, func(realm, user string) bool { return len(b.reg.lookup(realm, user)) > 0 }) {
		realmName, user, _ := cutKey(key)
		pr := pol.Realm(realmName)
		if pr == nil || pr.Registration.Forward == "" {
			continue
		}
		t := pol.Trunk(pr.Registration.Forward)
		if t == nil || len(t.Gateways) == 0 || b.realms[t.Realm.Name] == nil {
			continue
		}
		cr := b.realms[t.Realm.Name]
		callID, seq := b.fwd.next(key, t.Name)
		orig := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: t.Gateways[0].Addr.Addr().String()})
		req := upstreamRequest(cr, t, orig, user, 0, callID, seq)
		if pr.Registration.ForwardMode == "path" && !b.fwd.get(key).noPath {
			withPath(req, cr, realmName, user, nil, 0)
		}
		b.fwd.granted(key, 0, now)
		b.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), upstreamTimeout)
			defer cancel()
			if _, err := cr.transact(ctx, req); err != nil {
				cr.log.Debug("un-REGISTER of an expired user failed", "user", user, "err", err)
			}
		})
	}
}

// transact sends a request in a client transaction of the realm and waits
// for its final response.
func (r *realm) transact(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	r.observe(Out, req)
	tx, err := r.txl.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRegistrar, err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res != nil && res.StatusCode >= 200 {
				return res, nil
			}
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrRegistrar, err)
			}
			return nil, ErrRegistrar
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrRegistrar, ctx.Err())
		case <-r.b.done:
			return nil, ErrClosed
		}
	}
}
