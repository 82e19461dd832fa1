package sbc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/openborder/openborder/policy"
	"github.com/openborder/openborder/sbc/auth"
	"github.com/openborder/openborder/sbc/cac"
	"github.com/openborder/openborder/sbc/guard"
	"github.com/openborder/openborder/sbc/health"
)

// Config configures a B2BUA.
type Config struct {
	// Policy is the initial compiled policy. Required.
	Policy *policy.Set
	// Media anchors call media. Required.
	Media Media
	// Logger receives sbc's logs. Default slog.Default().
	Logger *slog.Logger
	// Observer sees messages, refusals and ended calls. Default: none.
	Observer Observer
	// SIPLogger receives sipgo's own logs. Default: Logger at warn level and above.
	SIPLogger *slog.Logger
	// OnGatewayChange is told when a probed gateway goes up or down
	// (metrics, SNMP notifications). Default: none.
	OnGatewayChange func(health.Change)
	// Guard is the border defence run on every realm socket. Default: one
	// built from Policy.
	Guard *guard.Guard
	// OnFraudBlock is told when a call breaches a toll-fraud rule and its
	// account is blocked (metrics, SNMP notifications). It is called on
	// the call's goroutine and must not block. Default: none.
	OnFraudBlock func(FraudBlock)
}

// B2BUA carries calls between realms.
type B2BUA struct {
	pol    atomic.Pointer[policy.Set]
	media  Media
	obs    Observer
	log    *slog.Logger
	sipLog *slog.Logger

	realms map[string]*realm
	calls  *registry
	reg    *registrar
	// fwd, out and keepAlives: registration forwarding, outbound
	// registrations and NAT keep-alives (reg*.go, nat.go).
	fwd        *forwarder
	out        outbound
	keepAlives atomic.Int64
	nat        natProbes
	guard      *guard.Guard

	// health probes trunk gateways; quality keeps trunks' recent calls.
	health   *health.Monitor
	quality  *health.Quality
	onHealth func(health.Change)
	onFraud  func(FraudBlock)

	// nonces outlive policy reloads, so challenges in flight stay valid.
	nonces    *auth.Nonces
	cas       caPools
	admission *cac.Admission
	fraud     *cac.Fraud

	draining atomic.Bool
	closed   atomic.Bool
	// done is closed by Close: client transactions still running end.
	done chan struct{}
	// serving is closed when Start has opened every realm (or Close ran):
	// requests received meanwhile wait for it, as realms and their
	// addresses are still being filled in.
	serving     chan struct{}
	servingOnce sync.Once
	wg          sync.WaitGroup
	panics      atomic.Int64
	// timers runs every call's timers.
	timers *timerQueue
	seq    atomic.Uint64
}

// New builds a B2BUA; Start opens its listeners.
func New(cfg Config) (*B2BUA, error) {
	if cfg.Policy == nil || cfg.Media == nil {
		return nil, errors.New("sbc: Policy and Media are required")
	}
	liftUDPLimit()
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	sipLog := cfg.SIPLogger
	if sipLog == nil {
		sipLog = slog.New(levelFilter{h: log.Handler(), min: slog.LevelWarn}).With("component", "sipgo")
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	b := &B2BUA{
		media:   cfg.Media,
		obs:     cfg.Observer,
		log:     log,
		sipLog:  sipLog,
		realms:  make(map[string]*realm),
		calls:   newRegistry(),
		reg:     newRegistrar(),
		fwd:     newForwarder(),
		done:    make(chan struct{}),
		timers:  newTimerQueue(),
		serving: make(chan struct{}),

		nonces:    auth.NewNonces(0, nil),
		admission: cac.New(nil),
		fraud:     cac.NewFraud(nil),
	}
	b.onHealth = cfg.OnGatewayChange
	b.onFraud = cfg.OnFraudBlock
	b.quality = health.NewQuality(nil)
	b.guard = cfg.Guard
	if b.guard == nil {
		b.guard = guard.New(cfg.Policy, guard.Options{Logger: log.With("component", "guard")})
	}
	b.pol.Store(cfg.Policy)
	return b, nil
}

// Start opens every realm's listeners and begins serving.
func (b *B2BUA) Start() error {
	pol := b.pol.Load()
	dscp := 24
	if d := pol.Config().SIP.DSCP; d != nil {
		dscp = *d
	}
	if err := b.openStore(pol); err != nil {
		b.Close()
		return err
	}
	for _, pr := range pol.Realms() {
		r, err := newRealm(b, pr)
		if err != nil {
			b.Close()
			return err
		}
		b.realms[pr.Name] = r
		if err := r.listen(pr, dscp, &b.wg); err != nil {
			b.Close()
			return err
		}
		r.log.Info("realm listening", "listeners", len(pr.Listeners), "advertised", pr.Advertised)
	}
	b.wg.Go(b.reg.expireLoop(b.closedCh()))
	b.startHealth(pol)
	b.startRegistrations(pol)
	b.servingOnce.Do(func() { close(b.serving) })
	return nil
}

// Policy returns the policy new calls start with.
func (b *B2BUA) Policy() *policy.Set { return b.pol.Load() }

// Reload swaps the policy atomically. Calls in progress keep the policy they
// started with. Listener changes take effect at the next restart.
func (b *B2BUA) Reload(s *policy.Set) {
	old := b.pol.Swap(s)
	if b.health != nil {
		b.health.Update(health.Targets(s))
	}
	b.syncOutbound(s)
	b.guard.SetPolicy(s)
	for _, pr := range s.Realms() {
		if _, ok := b.realms[pr.Name]; !ok {
			b.log.Warn("new realm in reloaded policy needs a restart to listen", "realm", pr.Name)
		}
	}
	_ = old
}

// ActiveCalls counts calls in progress.
func (b *B2BUA) ActiveCalls() int { return b.calls.count() }

// Draining reports whether sbcd is refusing new calls before stopping.
func (b *B2BUA) Draining() bool { return b.draining.Load() }

// Registrations is the number of live registered contacts.
func (b *B2BUA) Registrations() int { return b.reg.count() }

// Drain stops taking new calls (503 with Retry-After) and waits for calls
// in progress to end; at the deadline every remaining call gets BYE on both
// legs. It returns when no call is left or ctx ends.
func (b *B2BUA) Drain(ctx context.Context, deadline time.Duration) {
	b.draining.Store(true)
	b.log.Info("draining", "calls", b.calls.count(), "deadline", deadline)
	// Carriers stop sending calls to an sbcd that is going away.
	b.StopRegistrations()
	t := time.NewTimer(deadline)
	defer t.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	hungUp := false
	for b.calls.count() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !hungUp {
				hungUp = true
				for _, c := range b.calls.all() {
					c.post(evHangup{cause: "drain"})
				}
			}
		case <-tick.C:
		}
	}
}

// Hangup ends a call by its media identifier (e.g. on media timeout).
func (b *B2BUA) Hangup(mediaID, cause string) {
	if c := b.calls.byMediaID(mediaID); c != nil {
		c.post(evHangup{cause: cause})
	}
}

// Close stops every listener and waits for the serving goroutines.
func (b *B2BUA) Close() {
	if !b.closed.CompareAndSwap(false, true) {
		return
	}
	if b.health != nil {
		b.health.Close()
	}
	// Un-register from trunks while the listeners still work.
	b.StopRegistrations()
	b.reg.close()
	close(b.done)
	b.servingOnce.Do(func() { close(b.serving) })
	for _, r := range b.realms {
		r.close()
	}
	b.wg.Wait()
	b.timers.close()
}

func (b *B2BUA) closedCh() <-chan struct{} { return b.reg.done }

// dispatch routes a new server transaction to the code that owns it.
func (b *B2BUA) dispatch(r *realm, req *sip.Request, tx *serverTx) {
	<-b.serving
	if req.IsAck() {
		// ACK for a 2xx (ACKs for non-2xx are absorbed by the transaction).
		if c, side := b.findDialog(r, req); c != nil {
			c.post(evRequest{side: side, req: req, tx: tx})
		}
		return
	}
	if req.IsCancel() {
		// The INVITE transaction it would cancel no longer exists.
		respondStateless(tx, req, 481, "no_transaction")
		return
	}
	to := req.To()
	if to == nil || req.From() == nil || req.CallID() == nil || req.CSeq() == nil {
		respondStateless(tx, req, 400, "bad_request")
		return
	}
	if totag, _ := to.Params.Get("tag"); totag != "" {
		c, side := b.findDialog(r, req)
		if c == nil {
			respondStateless(tx, req, 481, "no_dialog")
			return
		}
		c.post(evRequest{side: side, req: req, tx: tx})
		return
	}
	if !b.authenticate(r, req, tx) {
		return
	}
	switch req.Method {
	case sip.INVITE:
		b.newCall(r, req, tx)
	case sip.REGISTER:
		b.register(r, req, tx)
	case sip.OPTIONS:
		b.options(r, req, tx)
	case sip.MESSAGE, sip.SUBSCRIBE, sip.PUBLISH, sip.NOTIFY, sip.INFO, sip.REFER, sip.UPDATE, sip.PRACK, sip.BYE:
		b.outOfDialog(r, req, tx)
	default:
		code := b.pol.Load().Config().SIP.UnknownMethod
		if code == 0 {
			code = 501
		}
		b.obs.Rejected(r.name, req.Method, "unknown_method")
		res := newResponse(req, code)
		res.AppendHeader(sip.NewHeader("Allow", allowHeader))
		_ = tx.Respond(res)
	}
}

func (b *B2BUA) findDialog(r *realm, req *sip.Request) (*call, Side) {
	tag, _ := req.From().Params.Get("tag")
	return b.calls.find(r.name, string(*req.CallID()), tag)
}

// newID returns a process-unique identifier for media sessions and logs.
func (b *B2BUA) newID() string {
	return fmt.Sprintf("ob-%d-%s", b.seq.Add(1), sip.GenerateTagN(8))
}

// respondStateless refuses a request that belongs to no call; reason is
// the label it is counted under.
func respondStateless(tx *serverTx, req *sip.Request, code int, reason string) {
	if tx == nil {
		return
	}
	tx.r.b.obs.Rejected(tx.r.name, req.Method, reason)
	_ = tx.Respond(newResponse(req, code))
}

// newResponse builds a response with sbcd's own reason phrase.
func newResponse(req *sip.Request, code int) *sip.Response {
	return sip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
}

const allowHeader = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, REFER, NOTIFY, MESSAGE, SUBSCRIBE, PUBLISH, REGISTER"

// levelFilter drops records below min.
type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(a), min: f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(n), min: f.min}
}
