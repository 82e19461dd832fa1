package rtpengine

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/sdp/v3"
)

// Offer anchors the media of an SDP offer from r.FromTag: it allocates
// (or, on a re-offer, keeps) ports for the offerer's side on
// Flags.FromInterface and for the other side on Flags.ToInterface, points
// the relay at the offerer's addresses, and returns the SDP for the other
// side.
func (e *Engine) Offer(ctx context.Context, r OfferRequest) ([]byte, error) {
	sd, streams, c, err := e.begin(ctx, r.CallID, r.FromTag, &r.Flags, r.SDP, true)
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	fresh := len(c.order) == 0
	out, err := e.offer(c, r, sd, streams)
	if err != nil && fresh {
		e.dropCall(c)
	}
	e.logResult("offer", r.CallID, r.FromTag, len(streams), err)
	return out, err
}

func (e *Engine) offer(c *call, r OfferRequest, sd *sdp.SessionDescription, streams []sdpStream) ([]byte, error) {
	a := c.mono[r.FromTag]
	var b *monologue
	if r.ToTag != "" {
		b = c.mono[r.ToTag]
	}
	if b == nil && a != nil {
		b = a.other
	}
	if b == nil {
		if p := c.mono[""]; p != nil && (p.other == nil || p.other == a) {
			b = p
		}
	}
	var aPool, bPool *pool
	if a != nil {
		aPool = a.pool
	}
	if b != nil {
		bPool = b.pool
	}
	fromPool, err := e.pool(r.Flags.FromInterface, aPool)
	if err != nil {
		return nil, err
	}
	toPool, err := e.pool(r.Flags.ToInterface, bPool)
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = c.newMono(r.FromTag, fromPool)
		a.tap = e.baseTap(c.id)
	}
	if ufrag := iceUfrag(sd); ufrag != "" {
		a.iceRestart = a.peerUfrag != "" && ufrag != a.peerUfrag
		a.peerUfrag = ufrag
	}
	if b == nil {
		b = c.newMono(r.ToTag, toPool)
		b.tap = e.baseTap(c.id)
	} else if b.tag == "" && r.ToTag != "" {
		c.rename(b, r.ToTag)
	}
	a.other, b.other = b, a
	for _, x := range []struct {
		m *monologue
		p *pool
	}{{a, fromPool}, {b, toPool}} {
		if x.m.pool != x.p {
			e.releaseMonologue(x.m)
			x.m.pool = x.p
		}
	}

	withRTCP := r.Flags.RTCPMux != muxRequire
	if err := e.ensureEndpoints(a, streams, withRTCP); err != nil {
		return nil, err
	}
	if err := e.ensureEndpoints(b, streams, withRTCP); err != nil {
		return nil, err
	}
	ports := make([]int, len(streams))
	mux := make([]bool, len(streams))
	formats := make([][]format, len(streams))
	for i := range streams {
		st := &streams[i]
		ea, eb := a.eps[i], b.eps[i]
		if ea == nil || eb == nil {
			continue
		}
		ea.xoffer, formats[i] = e.planTranscode(sd.MediaDescriptions[i], st, r.Flags.Codecs)
		if ea.xoffer == nil {
			e.setXcode(ea, nil)
			e.setXcode(eb, nil)
		}
		params := &mediaParams{clock: st.clock}
		ea.media, eb.media = st.media, st.media
		ea.offeredMux = st.mux
		ea.peerNames = st.names
		ea.setPeer(st.rtpAddr(), st.rtcp, st.mux && r.Flags.RTCPMux != muxDemux)
		ea.params.Store(params)
		eb.params.Store(params)
		ea.hold.Store(st.hold())
		// The forwarding swap: each pointer store is atomic, sockets
		// stay, so packets in flight are never dropped by a re-offer.
		ea.partner.Store(eb)
		eb.partner.Store(ea)
		ports[i] = int(eb.local.Port())
		mux[i] = offerMux(r.Flags.RTCPMux, st.mux)
	}
	b.setICE(r.Flags.ICE)
	b.publishICE()
	opts := rewriteOpts{addr: b.pool.cfg.Advertised, ports: ports, mux: mux, flags: &r.Flags, ice: b.ice,
		sec: e.offerSecurity(sd, a, b, &r.Flags), fingerprint: e.id.fingerprint, formats: formats}
	if err := rewrite(sd, opts); err != nil {
		return nil, err
	}
	e.dtmfOffer(c, a, b, sd, streams, r.Flags.DTMF)
	if r.Flags.Record && c.rec == nil && e.cfg.Recording.Dir != "" {
		c.rec = &callRec{}
	}
	if err := e.refreshRecording(c); err != nil {
		e.log.Warn("recording not started", "call_id", c.id, "err", err)
	}
	c.lastSig.Store(monoNow())
	return b.origin.stamp(sd, r.Flags.ReplaceOrigin, b.pool.cfg.Advertised, e.sessionID())
}

// Answer anchors the SDP answer of r.ToTag to the offer of r.FromTag and
// returns the SDP for the offerer.
func (e *Engine) Answer(ctx context.Context, r AnswerRequest) ([]byte, error) {
	sd, streams, c, err := e.begin(ctx, r.CallID, r.FromTag, &r.Flags, r.SDP, false)
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	a := c.mono[r.FromTag]
	if a == nil {
		return nil, fmt.Errorf("%w: tag %q in call %q", ErrNotFound, r.FromTag, r.CallID)
	}
	b := c.mono[r.ToTag]
	if b == nil && a.other != nil && (a.other.tag == "" || r.ToTag == "") {
		b = a.other
		if b.tag == "" && r.ToTag != "" {
			c.rename(b, r.ToTag)
		}
	}
	if b == nil || b.other != a {
		return nil, fmt.Errorf("%w: no offer from %q to %q in call %q", ErrNotFound, r.FromTag, r.ToTag, r.CallID)
	}
	if len(streams) != len(b.eps) {
		return nil, fmt.Errorf("%w: answer has %d m= lines, the offer had %d", ErrBadSDP, len(streams), len(b.eps))
	}
	ports := make([]int, len(streams))
	mux := make([]bool, len(streams))
	if f := r.Flags.DTMF; f != nil {
		a.dtmf, b.dtmf = dtmfMode(f.From), dtmfMode(f.To)
	}
	for i := range streams {
		st := &streams[i]
		ea, eb := a.eps[i], b.eps[i]
		if ea == nil || eb == nil {
			continue
		}
		if st.port == 0 {
			e.releaseEndpoint(ea)
			e.releaseEndpoint(eb)
			a.eps[i], b.eps[i] = nil, nil
			continue
		}
		answered := codecName(sd.MediaDescriptions[i])
		if ea.xoffer != nil {
			if err := e.answerTranscode(c, a, b, ea, eb, ea.xoffer, sd.MediaDescriptions[i], st); err != nil {
				e.logResult("answer", r.CallID, r.ToTag, len(streams), err)
				return nil, err
			}
		}
		if ea.xoffer == nil {
			trimAnswer(sd.MediaDescriptions[i], ea.peerNames)
			if r.Flags.DTMF != nil {
				dtmfAnswerSDP(sd.MediaDescriptions[i], ea.peerNames, dtmfMode(r.Flags.DTMF.From))
			}
		}
		eb.setPeer(st.rtpAddr(), st.rtcp, st.mux)
		eb.peerNames = st.names
		// The answerer's choice names its leg's codec; what the offerer
		// is answered (trimmed, or its own codec when transcoding) names
		// the offerer's.
		eb.codec, ea.codec = answered, codecName(sd.MediaDescriptions[i])
		if ea.xcode.Load() != nil {
			c.transcoded = true
		}
		eb.params.Store(&mediaParams{clock: st.clock})
		eb.hold.Store(st.hold())
		mux[i] = answerMux(r.Flags.RTCPMux, ea.offeredMux, st.mux)
		ea.mux.Store(mux[i])
		ports[i] = int(ea.local.Port())
	}
	if a.iceRestart {
		a.ice, a.iceRestart = nil, false
	}
	a.setICE(r.Flags.ICE)
	a.publishICE()
	sec, err := e.answerSecurity(sd, a, b)
	if err != nil {
		e.logResult("answer", r.CallID, r.ToTag, len(streams), err)
		return nil, err
	}
	opts := rewriteOpts{addr: a.pool.cfg.Advertised, ports: ports, mux: mux, flags: &r.Flags, ice: a.ice,
		sec: sec, fingerprint: e.id.fingerprint}
	if err := rewrite(sd, opts); err != nil {
		e.logResult("answer", r.CallID, r.ToTag, len(streams), err)
		return nil, err
	}
	if r.Flags.Record && c.rec == nil && e.cfg.Recording.Dir != "" {
		c.rec = &callRec{}
	}
	if err := e.refreshRecording(c); err != nil {
		e.log.Warn("recording not started", "call_id", c.id, "err", err)
	}
	e.dtmfAnswer(c, a, b, r.Flags.DTMF)
	c.lastSig.Store(monoNow())
	e.logResult("answer", r.CallID, r.ToTag, len(streams), nil)
	return a.origin.stamp(sd, r.Flags.ReplaceOrigin, a.pool.cfg.Advertised, e.sessionID())
}

// begin checks an offer or answer and returns its parsed SDP and the call,
// locked (created when create is set).
func (e *Engine) begin(ctx context.Context, callID, fromTag string, f *Flags, body []byte, create bool) (*sdp.SessionDescription, []sdpStream, *call, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	if callID == "" || fromTag == "" {
		return nil, nil, nil, fmt.Errorf("%w: call ID and from-tag are required", ErrBadRequest)
	}
	if err := f.validate(); err != nil {
		return nil, nil, nil, err
	}
	sd, streams, err := parseSDP(body)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := e.lockCall(callID, create)
	if err != nil {
		return nil, nil, nil, err
	}
	e.kernelYield(c)
	return sd, streams, c, nil
}

// ensureEndpoints makes m's endpoints match the streams: existing ones are
// kept (same ports), rejected streams release theirs, new streams get new
// ports. On failure the endpoints allocated by this call are released.
func (e *Engine) ensureEndpoints(m *monologue, streams []sdpStream, withRTCP bool) error {
	for i := len(streams); i < len(m.eps); i++ {
		e.releaseEndpoint(m.eps[i])
	}
	if len(m.eps) > len(streams) {
		m.eps = m.eps[:len(streams)]
	}
	for len(m.eps) < len(streams) {
		m.eps = append(m.eps, nil)
	}
	var fresh []int
	for i := range streams {
		if streams[i].port == 0 {
			e.releaseEndpoint(m.eps[i])
			m.eps[i] = nil
			continue
		}
		if ep := m.eps[i]; ep != nil {
			if withRTCP && ep.pp.rtcp.Load() == nil && ep.pool.openRTCP(ep.pp) == nil {
				if err := e.startReader(ep, ep.pp.rtcp.Load(), true); err != nil {
					e.log.Warn("media relay: RTCP socket not served", "err", err, "local", ep.local.String())
				}
			}
			continue
		}
		pp, err := m.pool.allocate(withRTCP)
		if err != nil {
			for _, j := range fresh {
				e.releaseEndpoint(m.eps[j])
				m.eps[j] = nil
			}
			return err
		}
		ep := &endpoint{
			media: streams[i].media,
			pool:  m.pool,
			pp:    pp,
			local: netip.AddrPortFrom(m.pool.cfg.Advertised, uint16(pp.port)),
			kick:  e.kernelKick(),
			owner: m.call,
		}
		if m.tap != nil {
			ep.tap.Store(m.tap)
		}
		m.eps[i] = ep
		fresh = append(fresh, i)
	}
	for _, i := range fresh {
		ep := m.eps[i]
		err := e.startReader(ep, ep.pp.rtp, false)
		if rtcp := ep.pp.rtcp.Load(); rtcp != nil && err == nil {
			err = e.startReader(ep, rtcp, true)
		}
		if err != nil {
			for _, j := range fresh {
				e.releaseEndpoint(m.eps[j])
				m.eps[j] = nil
			}
			return fmt.Errorf("media relay: %w", err)
		}
	}
	return nil
}

// startReader has one socket served: by a relay worker (epoll relay) or
// by its own reader goroutine, which ends when the socket is closed.
func (e *Engine) startReader(ep *endpoint, s *mediaSock, rtcp bool) error {
	r := &reader{ep: ep, sock: s, rtcp: rtcp}
	if s.conn == nil {
		if e.relay == nil {
			return errNoEpollRelay
		}
		return e.relay.attach(s, r)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		r.run(e.log)
	}()
	return nil
}

func (c *call) newMono(tag string, p *pool) *monologue {
	m := &monologue{call: c, tag: tag, pool: p}
	c.mono[tag] = m
	c.order = append(c.order, m)
	return m
}

func (c *call) rename(m *monologue, tag string) {
	delete(c.mono, m.tag)
	m.tag = tag
	c.mono[tag] = m
}

// dropCall removes a call that holds nothing. Called with c.mu held.
func (e *Engine) dropCall(c *call) {
	e.releaseCall(c)
	e.mu.Lock()
	if e.calls[c.id] == c {
		delete(e.calls, c.id)
	}
	e.mu.Unlock()
}

// setICE creates our ICE-lite credentials towards m's peer when ICE is
// forced, and forgets them when it is not.
func (m *monologue) setICE(mode string) {
	if mode != iceForce {
		m.ice = nil
		return
	}
	if m.ice == nil {
		m.ice = &iceCreds{ufrag: rand.Text()[:8], pwd: rand.Text()}
	}
}

// sessionID returns a fresh o= session id.
func (e *Engine) sessionID() uint64 {
	return uint64(time.Now().Unix())<<16 + e.nextID.Add(1)
}

// logResult logs one control operation (never per packet).
func (e *Engine) logResult(op, callID, tag string, streams int, err error) {
	if err != nil {
		e.log.Warn(op+" failed", "call_id", callID, "tag", tag, "err", err)
		return
	}
	e.log.Debug(op, "call_id", callID, "tag", tag, "streams", streams)
}
