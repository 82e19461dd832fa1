package sbc

import (
	"context"
	"io"
	"net"
	"strings"
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
				if now.Sub(last[pr.Name]) < g.KeepAlive {
					continue
				}
				last[pr.Name] = now
				for _, bd := range b.reg.realmBindings(pr.Name) {
					if err := r.keepAlive(bd, g.KeepAliveMethod); err != nil {
						r.log.Debug("keep-alive not sent", "source", bd.source, "err", err)
					} else {
						b.keepAlives.Add(1)
					}
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := r.tpl.ClientRequestConnection(ctx, req)
	if err != nil {
		return err
	}
	r.observe(Out, req)
	return c.WriteMsg(req)
}

func errNoConnection(addr string, err error) error {
	if err != nil {
		return &net.OpError{Op: "keepalive", Net: "sip", Err: err}
	}
	return &net.OpError{Op: "keepalive", Net: "sip", Err: net.UnknownNetworkError("no connection to " + addr)}
}

// realmBindings lists the live bindings of one realm.
func (r *registrar) realmBindings(realm string) []binding {
	r.mu.RLock()
	defer r.mu.RUnlock()
	now := time.Now()
	var out []binding
	for key, bs := range r.users {
		if rn, _, _ := cutKey(key); rn != realm {
			continue
		}
		for _, b := range bs {
			if b.expires.After(now) {
				out = append(out, b)
			}
		}
	}
	return out
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
