package sbc

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/openborder/openborder/policy"
)

// Outbound registration states.
const (
	RegRegistering = "registering"
	RegRegistered  = "registered"
	RegFailed      = "failed"
	// RegUnregistered: sbcd ended the registration (drain, shutdown).
	RegUnregistered = "unregistered"
)

// RegStates lists the outbound registration states, for exporters.
var RegStates = []string{RegRegistering, RegRegistered, RegFailed, RegUnregistered}

// registerTimeout bounds one REGISTER transaction of an outbound registration.
const registerTimeout = 5 * time.Second

// OutboundRegistration is the state of sbcd's own registration with a
// trunk that requires one.
type OutboundRegistration struct {
	Trunk     string `json:"trunk"`
	Realm     string `json:"realm"`
	AOR       string `json:"aor"`
	Registrar string `json:"registrar"`
	// State is registering, registered or failed.
	State string `json:"state"`
	// LastStatus is the registrar's last final response (0: none).
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	// Expires is when the current registration ends (zero: not registered).
	Expires time.Time `json:"expires,omitzero"`
	// Since is when the registration last became registered.
	Since time.Time `json:"since,omitzero"`
	// Failures counts failed attempts since the last success.
	Failures int `json:"failures"`
	// Registrations counts successful REGISTERs (first and refreshes)
	// since sbcd started, across reloads.
	Registrations int `json:"registrations"`
	// FailedAttempts counts failed REGISTERs since sbcd started, across
	// reloads (Failures restarts at each success).
	FailedAttempts int `json:"failed_attempts"`
	// NextAttempt is when sbcd sends the next REGISTER.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// regClient keeps one trunk registered: refresh before expiry, back-off
// after failures, digest challenges answered.
type regClient struct {
	b        *B2BUA
	r        *realm
	trunk    string
	cfg      policy.TrunkRegisterConfig
	gateways []policy.Gateway
	callID   string
	fromTag  string
	cseq     uint32
	stop     chan struct{}
	done     chan struct{}

	mu sync.Mutex
	st OutboundRegistration
}

// outbound holds the running registration clients by trunk.
type outbound struct {
	mu      sync.Mutex
	clients map[string]*regClient
	// stopped is set once the registrations were ended (drain, close):
	// a reload then starts no client.
	stopped bool
}

// StopRegistrations ends sbcd's registrations with trunks: every
// registered trunk gets an un-REGISTER (Expires: 0, each bounded by the
// REGISTER timeout, all in parallel) and no client is started again.
// Drain and Close call it; it is idempotent.
func (b *B2BUA) StopRegistrations() {
	b.out.mu.Lock()
	defer b.out.mu.Unlock()
	b.out.stopped = true
	for _, c := range b.out.clients {
		close(c.stop)
	}
	for name, c := range b.out.clients {
		<-c.done
		delete(b.out.clients, name)
	}
}

// OutboundRegistrations lists sbcd's registrations with trunks, by trunk name.
func (b *B2BUA) OutboundRegistrations() []OutboundRegistration {
	b.out.mu.Lock()
	out := make([]OutboundRegistration, 0, len(b.out.clients))
	for _, c := range b.out.clients {
		c.mu.Lock()
		out = append(out, c.st)
		c.mu.Unlock()
	}
	b.out.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Trunk < out[j].Trunk })
	return out
}

// syncOutbound starts a client for every trunk with register settings,
// and stops (and restarts) clients whose trunk went away or changed.
func (b *B2BUA) syncOutbound(pol *policy.Set) {
	b.out.mu.Lock()
	defer b.out.mu.Unlock()
	if b.out.stopped {
		return
	}
	if b.out.clients == nil {
		b.out.clients = make(map[string]*regClient)
	}
	carried := map[string][2]int{}
	want := map[string]*policy.Trunk{}
	for _, t := range pol.Trunks() {
		if t.Register != nil && len(t.Gateways) > 0 && b.realms[t.Realm.Name] != nil {
			want[t.Name] = t
		}
	}
	for name, c := range b.out.clients {
		t := want[name]
		if t != nil && reflect.DeepEqual(*t.Register, c.cfg) && reflect.DeepEqual(t.Gateways, c.gateways) {
			delete(want, name)
			continue
		}
		close(c.stop)
		<-c.done
		c.mu.Lock()
		carried[name] = [2]int{c.st.Registrations, c.st.FailedAttempts}
		c.mu.Unlock()
		delete(b.out.clients, name)
	}
	for name, t := range want {
		c := newRegClient(b, t)
		// The counters are sbcd's, not one client's: a changed trunk keeps them.
		c.st.Registrations, c.st.FailedAttempts = carried[name][0], carried[name][1]
		b.out.clients[name] = c
		b.wg.Go(c.run)
	}
}

func newRegClient(b *B2BUA, t *policy.Trunk) *regClient {
	c := &regClient{
		b: b, r: b.realms[t.Realm.Name], trunk: t.Name, cfg: *t.Register,
		gateways: append([]policy.Gateway(nil), t.Gateways...),
		callID:   sip.GenerateTagN(24), fromTag: sip.GenerateTagN(16),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	aor := c.aor()
	c.st = OutboundRegistration{Trunk: t.Name, Realm: t.Realm.Name, AOR: aor.String(),
		Registrar: c.gateways[0].Addr.String(), State: RegRegistering}
	return c
}

func (c *regClient) aor() sip.Uri {
	return sip.Uri{Scheme: "sip", User: c.cfg.Username, Host: c.cfg.Domain}
}

// run registers, refreshes at 80% of the granted time and backs off after
// failures, until stopped. On stop a registered trunk is un-registered.
func (c *regClient) run() {
	defer close(c.done)
	log := c.r.log.With("trunk", c.trunk)
	var delay time.Duration
	failures := 0
	for {
		c.set(func(s *OutboundRegistration) { s.NextAttempt = time.Now().Add(delay).UTC() })
		t := time.NewTimer(delay)
		select {
		case <-c.stop:
			t.Stop()
			c.unregister()
			return
		case <-c.b.done:
			t.Stop()
			return
		case <-t.C:
		}
		gw := c.gateways[failures%len(c.gateways)]
		granted, status, err := c.register(gw, c.cfg.Expires)
		now := time.Now()
		if err == nil {
			if failures > 0 || c.state() != RegRegistered {
				log.Info("trunk registered", "registrar", gw.Addr.String(), "expires", granted)
			}
			failures = 0
			delay = max(granted*8/10, time.Second)
			c.set(func(s *OutboundRegistration) {
				if s.State != RegRegistered {
					s.Since = now.UTC()
				}
				s.State, s.LastStatus, s.LastError, s.Failures = RegRegistered, status, "", 0
				s.Registrar, s.Expires = gw.Addr.String(), now.Add(granted).UTC()
				s.Registrations++
			})
			continue
		}
		failures++
		delay = backoff(c.cfg.RetryMin, c.cfg.RetryMax, failures)
		log.Warn("trunk registration failed", "registrar", gw.Addr.String(), "status", status, "err", err, "retry_in", delay)
		c.set(func(s *OutboundRegistration) {
			s.State, s.LastStatus, s.LastError, s.Failures = RegFailed, status, err.Error(), failures
			s.FailedAttempts++
			s.Registrar = gw.Addr.String()
			if !s.Expires.After(now) {
				s.Expires = time.Time{}
			}
		})
	}
}

// backoff is min·2^(n-1), at most max.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

func (c *regClient) set(f func(*OutboundRegistration)) {
	c.mu.Lock()
	f(&c.st)
	c.mu.Unlock()
}

func (c *regClient) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.State
}

// unregister sends Expires: 0 when the trunk is registered (bounded) and
// leaves the state unregistered.
func (c *regClient) unregister() {
	c.mu.Lock()
	st := c.st
	c.mu.Unlock()
	if st.State != RegRegistered {
		return
	}
	for _, gw := range c.gateways {
		if gw.Addr.String() == st.Registrar {
			_, status, err := c.register(gw, 0)
			if err != nil {
				c.r.log.Warn("trunk un-REGISTER failed", "trunk", c.trunk, "registrar", st.Registrar, "err", err)
			} else {
				c.r.log.Info("trunk unregistered", "trunk", c.trunk, "registrar", st.Registrar, "status", status)
			}
			c.set(func(s *OutboundRegistration) {
				s.State, s.Expires, s.NextAttempt = RegUnregistered, time.Time{}, time.Time{}
			})
			return
		}
	}
}

// register runs one registration (answering up to two digest challenges
// and one 423) and returns the granted lifetime and the final status.
func (c *regClient) register(gw policy.Gateway, expires time.Duration) (time.Duration, int, error) {
	var auth sip.Header
	challenges := 0
	for range 4 {
		req := c.request(gw, expires, auth)
		ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
		res, err := c.r.transact(ctx, req)
		cancel()
		if err != nil {
			return 0, 0, err
		}
		switch {
		case res.IsSuccess():
			if expires == 0 {
				return 0, res.StatusCode, nil
			}
			g := grantedExpiry(res, sbcContact(c.r, c.cfg.Username), expires)
			if g <= 0 {
				return 0, res.StatusCode, fmt.Errorf("%w: registrar granted %s", ErrRegisterRefused, g)
			}
			return g, res.StatusCode, nil
		case res.StatusCode == 401 || res.StatusCode == 407:
			challenges++
			if challenges > 2 {
				return 0, res.StatusCode, fmt.Errorf("%w: credentials not accepted", ErrRegisterRefused)
			}
			h, err := c.answer(res, req)
			if err != nil {
				return 0, res.StatusCode, err
			}
			auth = h
		case res.StatusCode == 423:
			n := 0
			if h := res.GetHeader("Min-Expires"); h != nil {
				n, _ = strconv.Atoi(strings.TrimSpace(h.Value()))
			}
			if n <= 0 || time.Duration(n)*time.Second <= expires {
				return 0, res.StatusCode, fmt.Errorf("%w: 423 without a usable Min-Expires", ErrRegisterRefused)
			}
			expires = time.Duration(n) * time.Second
		default:
			return 0, res.StatusCode, fmt.Errorf("%w: %d %s", ErrRegisterRefused, res.StatusCode, res.Reason)
		}
	}
	return 0, 0, fmt.Errorf("%w: too many rounds", ErrRegisterRefused)
}

// answer computes the Authorization (or Proxy-Authorization) for a challenge.
func (c *regClient) answer(res *sip.Response, req *sip.Request) (sip.Header, error) {
	name, out := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		name, out = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(name)
	if h == nil {
		return nil, fmt.Errorf("%w: %d without %s", ErrRegisterRefused, res.StatusCode, name)
	}
	if c.cfg.Password == "" {
		return nil, fmt.Errorf("%w: challenged but no password configured", ErrRegisterRefused)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRegisterRefused, err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(),
		Username: c.cfg.AuthUsername, Password: c.cfg.Password, Count: 1})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRegisterRefused, err)
	}
	return sip.NewHeader(out, cred.String()), nil
}

// request builds the trunk REGISTER: one Call-ID and From tag for the
// client's life, CSeq increasing (RFC 3261 10.2).
func (c *regClient) request(gw policy.Gateway, expires time.Duration, auth sip.Header) *sip.Request {
	tp := c.r.transportFor(gw.Transport)
	ruri := sip.Uri{Scheme: "sip", Host: c.cfg.Domain}
	if c.cfg.Domain == gw.Addr.Addr().String() {
		ruri.Port = int(gw.Addr.Port())
	}
	req := sip.NewRequest(sip.REGISTER, ruri)
	req.AppendHeader(c.r.via(tp, sip.GenerateBranch()))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	aor := c.aor()
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", c.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *aor.Clone(), Params: sip.NewParams()})
	cid := sip.CallIDHeader(c.callID)
	req.AppendHeader(&cid)
	c.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: sip.REGISTER})
	ct := c.r.contact(tp)
	ct.Address.User = c.cfg.Username
	req.AppendHeader(ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if auth != nil {
		req.AppendHeader(auth)
	}
	req.SetBody(nil)
	req.SetTransport(tp)
	req.Laddr = c.r.laddr(tp)
	req.SetDestination(gw.Addr.String())
	return req
}
