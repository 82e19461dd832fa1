package sbc

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
)

// realm is one network sbcd borders on: a sipgo user agent (transport and
// transaction layer) serving the realm's own sockets.
type realm struct {
	name string
	b    *B2BUA
	ua   *sipgo.UserAgent
	tpl  *sip.TransportLayer
	txl  *sip.TransactionLayer
	log  *slog.Logger
	// host is the advertised host for Via and Contact.
	host string
	// addrs holds the bound address per transport ("UDP", "TCP", "TLS").
	addrs map[string]netip.AddrPort
	// certs are the TLS certificates of the realm's listeners, by file pair.
	certs map[[2]string]*certReloader
	// closers are the realm's sockets.
	closers []func() error
	// ws are the realm's WebSocket listeners.
	ws []*wsListener
}

func newRealm(b *B2BUA, pr *policy.Realm) (*realm, error) {
	r := &realm{
		name:  pr.Name,
		b:     b,
		log:   b.log.With("realm", pr.Name),
		host:  pr.Advertised,
		addrs: make(map[string]netip.AddrPort),
	}
	// TLS listeners share one reloading certificate per file pair; the
	// first one is also the client certificate sbcd presents to gateways.
	r.certs = make(map[[2]string]*certReloader)
	var clientCert *certReloader
	for _, l := range pr.Listeners {
		if l.Transport == "tls" {
			cr, err := r.certFor(l.CertFile, l.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("realm %s: tls listener %s: %w", pr.Name, l.Address, err)
			}
			if clientCert == nil {
				clientCert = cr
			}
		}
	}
	tlsConf := r.clientTLS(clientCert)
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("sbcd"),
		sipgo.WithUserAgentHostname(pr.Advertised),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(b.sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(b.sipLog), sip.WithTransportLayerReadFilter(r.wsFilter)),
	}
	opts = append(opts, sipgo.WithUserAgenTLSConfig(tlsConf))
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		return nil, fmt.Errorf("realm %s: %w", pr.Name, err)
	}
	r.ua = ua
	r.tpl = ua.TransportLayer()
	r.txl = ua.TransactionLayer()
	// The hook sees every message synchronously, in arrival order, before
	// the transaction layer hands it to a goroutine of its own.
	r.tpl.OnMessage(r.onMessage)
	r.txl.OnRequest(r.onRequest)
	return r, nil
}

// listen opens the realm's sockets and serves them until the B2BUA stops.
func (r *realm) listen(pr *policy.Realm, dscp int, wg *sync.WaitGroup) error {
	lc := net.ListenConfig{Control: dscpControl(dscp)}
	ctx := context.Background()
	for _, l := range pr.Listeners {
		ap, err := netip.ParseAddrPort(l.Address)
		if err != nil {
			return fmt.Errorf("realm %s: listener %q: %w", r.name, l.Address, err)
		}
		switch l.Transport {
		case "udp":
			pc, err := lc.ListenPacket(ctx, "udp", l.Address)
			if err != nil {
				return fmt.Errorf("realm %s: %w", r.name, err)
			}
			if uc, ok := pc.(*net.UDPConn); ok {
				_ = uc.SetReadBuffer(8 << 20)
			}
			r.addrs["UDP"] = ap
			r.closers = append(r.closers, pc.Close)
			pc = r.guardPacketConn(pc)
			wg.Go(func() { _ = r.tpl.ServeUDP(pc) })
			// Requests leave from this socket only once sipgo has pooled
			// it; until then it would try to bind the port a second time.
			if err := r.waitPooled(pc.LocalAddr().String()); err != nil {
				return err
			}
		case "tcp", "tls":
			ln, err := lc.Listen(ctx, "tcp", l.Address)
			if err != nil {
				return fmt.Errorf("realm %s: %w", r.name, err)
			}
			r.closers = append(r.closers, ln.Close)
			if l.Transport == "tcp" {
				r.addrs["TCP"] = ap
				gl := r.guardListener(ln)
				wg.Go(func() { _ = r.tpl.ServeTCP(gl) })
			} else {
				cr, err := r.certFor(l.CertFile, l.KeyFile)
				if err != nil {
					return fmt.Errorf("realm %s: %w", r.name, err)
				}
				tln := tls.NewListener(ln, r.serverTLS(cr))
				r.addrs["TLS"] = ap
				gl := r.guardListener(tln)
				wg.Go(func() { _ = r.tpl.ServeTLS(gl) })
			}
		case "ws", "wss":
			if err := r.listenWS(ctx, lc, l, ap, wg); err != nil {
				return err
			}
		default:
			return fmt.Errorf("realm %s: transport %q: %w", r.name, l.Transport, ErrNoRealm)
		}
	}
	return nil
}

// waitPooled waits until sipgo serves a UDP listener.
func (r *realm) waitPooled(addr string) error {
	for range 500 {
		if c, _ := r.tpl.GetConnection("udp", addr); c != nil {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("realm %s: udp listener %s not served", r.name, addr)
}

func (r *realm) close() {
	for _, c := range r.closers {
		_ = c()
	}
	_ = r.ua.Close()
}

// port returns the port advertised for a transport, falling back to UDP's.
func (r *realm) port(transport string) int {
	if ap, ok := r.addrs[strings.ToUpper(transport)]; ok {
		return int(ap.Port())
	}
	return int(r.addrs["UDP"].Port())
}

// laddr is the local address requests of a transport leave from: the
// listener itself for UDP, the listener's IP for connection transports.
func (r *realm) laddr(transport string) sip.Addr {
	t := strings.ToUpper(transport)
	ap, ok := r.addrs[t]
	if !ok {
		ap = r.addrs["UDP"]
	}
	a := sip.Addr{IP: net.IP(ap.Addr().AsSlice())}
	if t == "UDP" {
		a.Port = int(ap.Port())
	}
	return a
}

// transportFor picks the transport a target is reached with: the one
// asked for if the realm listens on it, else UDP.
func (r *realm) transportFor(want string) string {
	t := strings.ToUpper(want)
	if t == "" {
		t = "UDP"
	}
	if _, ok := r.addrs[t]; ok {
		return t
	}
	return "UDP"
}

// contact is sbcd's Contact in this realm.
func (r *realm) contact(transport string) *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: "sbc", Host: r.host, Port: r.port(transport)}
	if t := strings.ToUpper(transport); t != "UDP" && t != "" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(t))
	}
	return &sip.ContactHeader{Address: u}
}

// via builds a fresh top Via for a request sent on transport.
func (r *realm) via(transport, branch string) *sip.ViaHeader {
	p := sip.NewParams()
	p.Add("branch", branch)
	p.Add("rport", "")
	return &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: strings.ToUpper(transport),
		Host: r.host, Port: r.port(transport), Params: p,
	}
}

// onMessage runs on the transport's read goroutine for every message, in
// order. Responses go to their call from here; requests go through the
// transaction layer (onRequest).
func (r *realm) onMessage(m sip.Message) {
	r.observe(In, m)
	res, ok := m.(*sip.Response)
	if !ok {
		return
	}
	cid := res.CallID()
	to := res.To()
	if cid == nil || to == nil {
		return
	}
	tag, _ := to.Params.Get("tag")
	c, side := r.b.calls.find(r.name, string(*cid), tag)
	if c == nil {
		return
	}
	c.post(evResponse{side: side, res: res})
}

// onRequest runs on a transaction-layer goroutine for each new server transaction.
func (r *realm) onRequest(req *sip.Request, stx *sip.ServerTx) {
	tx := &serverTx{ServerTx: stx, r: r}
	defer func() {
		if p := recover(); p != nil {
			r.b.panics.Add(1)
			r.log.Error("request handler panic", "err", p, "method", string(req.Method))
			respondStateless(tx, req, 500, "internal_error")
		}
	}()
	r.b.dispatch(r, req, tx)
}

// dscpControl sets IP_TOS on sockets before they bind.
func dscpControl(dscp int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		if dscp <= 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TOS, dscp<<2)
			if serr != nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_TCLASS, dscp<<2)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
