package sbc

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// NAT traversal for signalling. Requests from users behind NAT are
// answered to their source address (rport/received, RFC 3581, done by the
// transport layer); bindings keep the source address the REGISTER came
// from, and calls to the user go there (over the user's own TCP or TLS
// connection when it registered over one). keepAlives keeps those NAT
// bindings open.

// natTick is how often keep-alive schedules and upstream registrations are
// looked at.
const natTick = time.Second

// keepAliveLoop sends keep-alives to registered contacts per their realm's
// policy and un-registers upstream the users whose phones went away.
func (b *B2BUA) keepAliveLoop(done <-chan struct{}) {
	t := time.NewTicker(natTick)
	defer t.Stop()
	// The first keep-alive of a realm goes out one interval after start.
	start := time.Now()
	last := map[string]time.Time{}
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			pol := b.pol.Load()
			for _, pr := range pol.Realms() {
				g := pr.Registration
				r := b.realms[pr.Name]
				if r == nil || !pr.Registrar || g.KeepAlive <= 0 {
					continue
				}
				if _, ok := last[pr.Name]; !ok {
					last[pr.Name] = start
				}
				// Ticks jitter: half a tick of slack keeps a 1s interval on
				// every tick instead of every other one.
				if now.Sub(last[pr.Name]) < g.KeepAlive-natTick/2 {
					continue
				}
				last[pr.Name] = now
				for _, ub := range b.reg.realmBindings(pr.Name) {
					bd := ub.binding
					if g.KeepAliveMethod == "options" && g.KeepAliveFailures > 0 && !isStream(bd.transport) && !isWebSocket(bd.transport) {
						b.probeContact(r, ub, g.KeepAliveFailures)
						continue
					}
					if err := r.keepAlive(bd, g.KeepAliveMethod); err != nil {
						r.log.Debug("keep-alive not sent", "source", bd.source, "err", err)
					} else {
						b.keepAlives.Add(1)
					}
				}
			}
			for _, pr := range pol.Realms() {
				if r := b.realms[pr.Name]; r != nil && pr.Registrar {
					b.dropClosedFlows(r)
				}
			}
			b.sweepUpstream(now)
		}
	}
}

// keepAlive sends one keep-alive to a binding's source address: CRLF on
// its TCP/TLS connection, else OPTIONS or an empty datagram over UDP from
// the realm's listener.
func (r *realm) keepAlive(bd binding, method string) error {
	tp := strings.ToUpper(bd.transport)
	if tp == "TCP" || tp == "TLS" {
		c, err := r.tpl.GetConnection(tp, bd.source)
		if err != nil || c == nil {
			return errNoConnection(bd.source, err)
		}
		w, ok := c.(io.Writer)
		if !ok {
			return errNoConnection(bd.source, nil)
		}
		_, err = w.Write([]byte("\r\n\r\n"))
		return err
	}
	if method == "crlf" {
		c, err := r.tpl.GetConnection("udp", r.addrs["UDP"].String())
		if err != nil || c == nil {
			return errNoConnection(r.addrs["UDP"].String(), err)
		}
		w, ok := c.(interface {
			WriteTo([]byte, net.Addr) (int, error)
		})
		if !ok {
			return errNoConnection(bd.source, nil)
		}
		ua, err := net.ResolveUDPAddr("udp", bd.source)
		if err != nil {
			return err
		}
		_, err = w.WriteTo([]byte("\r\n\r\n"), ua)
		return err
	}
	req := r.optionsTo(bd)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := r.tpl.ClientRequestConnection(ctx, req)
	if err != nil {
		return err
	}
	r.observe(Out, req)
	return c.WriteMsg(req)
}

// optionsTo builds the OPTIONS keep-alive for a UDP binding: to its
// contact, sent to the address its REGISTER came from.
func (r *realm) optionsTo(bd binding) *sip.Request {
	req := sip.NewRequest(sip.OPTIONS, *bd.contact.Clone())
	req.AppendHeader(r.via("UDP", sip.GenerateBranch()))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "sbc", Host: r.host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *bd.contact.Clone(), Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.SetBody(nil)
	req.SetTransport("UDP")
	req.Laddr = r.laddr("UDP")
	req.SetDestination(bd.source)
	return req
}

func errNoConnection(addr string, err error) error {
	if err != nil {
		return &net.OpError{Op: "keepalive", Net: "sip", Err: err}
	}
	return &net.OpError{Op: "keepalive", Net: "sip", Err: net.UnknownNetworkError("no connection to " + addr)}
}

// userBinding is a binding with the user it belongs to.
type userBinding struct {
	user string
	binding
}

// realmBindings lists the live bindings of one realm.
func (r *registrar) realmBindings(realm string) []userBinding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := time.Now()
	var out []userBinding
	for key, bs := range r.users {
		rn, user, _ := cutKey(key)
		if rn != realm {
			continue
		}
		for _, b := range bs {
			if b.expires.After(now) {
				out = append(out, userBinding{user: user, binding: b})
			}
		}
	}
	return out
}

// drop removes one binding of a user (same contact and source) and
// reports whether it was there.
func (r *registrar) drop(realm, user string, contact sip.Uri, source string) bool {
	key := realm + "\x00" + user
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.users[key]
	keep := bs[:0]
	found := false
	for _, b := range bs {
		if !found && sameContact(b.contact, contact) && b.source == source {
			found = true
			continue
		}
		keep = append(keep, b)
	}
	if !found {
		return false
	}
	if len(keep) == 0 {
		delete(r.users, key)
	} else {
		r.users[key] = keep
	}
	if r.changed != nil {
		r.changed()
	}
	return true
}

// Dead contacts: a UDP contact that leaves keepalive_failures OPTIONS in
// a row unanswered, or a TCP/TLS binding whose connection closed, is
// dropped before it expires, so calls to the user fail at once (404)
// instead of timing out against a NAT binding that is gone.

// probeTimeout bounds one OPTIONS keep-alive transaction.
const probeTimeout = 2 * time.Second

// maxProbes bounds the OPTIONS keep-alives in flight.
const maxProbes = 256

// natProbes counts unanswered keep-alives per binding.
type natProbes struct {
	mu     sync.Mutex
	fails  map[string]int
	busy   map[string]bool
	flight int
}

func probeKey(realm string, ub userBinding) string {
	return realm + "\x00" + ub.user + "\x00" + ub.contact.String() + "\x00" + ub.source
}

// probeContact sends one OPTIONS keep-alive to a UDP binding in a transaction of
// its own (unless one is still in flight) and drops the binding after
// limit failures in a row. Any final response means the contact is alive.
func (b *B2BUA) probeContact(r *realm, ub userBinding, limit int) {
	key := probeKey(r.name, ub)
	p := &b.nat
	p.mu.Lock()
	if p.busy == nil {
		p.busy, p.fails = map[string]bool{}, map[string]int{}
	}
	if p.busy[key] || p.flight >= maxProbes {
		p.mu.Unlock()
		return
	}
	p.busy[key] = true
	p.flight++
	p.mu.Unlock()
	b.keepAlives.Add(1)
	req := r.optionsTo(ub.binding)
	b.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		_, err := r.transact(ctx, req)
		cancel()
		p.mu.Lock()
		delete(p.busy, key)
		p.flight--
		n := 0
		if err != nil {
			p.fails[key]++
			n = p.fails[key]
		}
		if err == nil || n >= limit {
			delete(p.fails, key)
		}
		p.mu.Unlock()
		if err != nil && errors.Is(err, ErrClosed) {
			return
		}
		if n >= limit && b.reg.drop(r.name, ub.user, ub.contact, ub.source) {
			r.log.Info("binding dropped", "user", ub.user, "source", ub.source, "reason", "keepalive_unanswered", "failures", n)
		}
	})
}

// dropClosedFlows removes the TCP/TLS bindings whose connection is gone
// (bindings restored from the state file have no flow yet and stay).
func (b *B2BUA) dropClosedFlows(r *realm) {
	for _, ub := range b.reg.realmBindings(r.name) {
		if !ub.flow || r.hasFlow(ub.transport, ub.source) {
			continue
		}
		if b.reg.drop(r.name, ub.user, ub.contact, ub.source) {
			r.log.Info("binding dropped", "user", ub.user, "source", ub.source, "transport", ub.transport, "reason", "flow_closed")
		}
	}
}

// isStream reports whether a transport is TCP or TLS.
func isStream(transport string) bool {
	t := strings.ToUpper(transport)
	return t == "TCP" || t == "TLS"
}

// startRegistrations starts the keep-alive loop and the outbound
// registrations once the listeners are open.
func (b *B2BUA) startRegistrations(pol *policy.Set) {
	done := b.closedCh()
	b.wg.Go(func() { b.keepAliveLoop(done) })
	b.syncOutbound(pol)
}

// KeepAlivesSent counts keep-alives sent to registered contacts.
func (b *B2BUA) KeepAlivesSent() int64 { return b.keepAlives.Load() }
