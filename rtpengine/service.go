package rtpengine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/pion/sdp/v3"
)

// Services of Serve.
const (
	serviceEcho = "echo"
	serviceTone = "tone"
)

// Tone parameters: 20 ms G.711 frames at 8 kHz, -10 dBm0.
const (
	toneFrame   = 160
	tonePtime   = 20 * time.Millisecond
	toneLevel   = -10.0
	defaultTone = 1000.0
)

// service is a running built-in service of a call (the tone sender).
type service struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once
	// key identifies what is served (conference.go); close, when set, runs
	// once on stop (a conference participant leaves its room).
	key   string
	close func()
}

// stop ends the service and waits for its goroutine.
func (s *service) stop() {
	s.once.Do(func() {
		close(s.quit)
		if s.close != nil {
			s.close()
		}
	})
	<-s.done
}

// parseService returns the service kind and, for tones, the frequency:
// "echo", "tone" (1000 Hz) or "tone:<Hz>" (e.g. "tone:400", 100-3400 Hz).
func parseService(s string) (string, float64, error) {
	switch {
	case s == serviceEcho:
		return serviceEcho, 0, nil
	case s == serviceTone:
		return serviceTone, defaultTone, nil
	case strings.HasPrefix(s, serviceTone+":"):
		f, err := strconv.ParseFloat(strings.TrimPrefix(s, serviceTone+":"), 64)
		if err != nil || f < 100 || f > 3400 {
			return "", 0, fmt.Errorf("%w: tone frequency in %q (100-3400 Hz)", ErrBadFlags, s)
		}
		return serviceTone, f, nil
	}
	return "", 0, fmt.Errorf("%w: unknown service %q", ErrBadFlags, s)
}

// mirror returns the answer direction for an offered direction.
func mirror(dir string) string {
	switch dir {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	}
	return dir
}

// Serve answers an offer with the engine itself as the far end: "echo"
// returns every RTP/RTCP packet to its (latched) source, "tone" sends a
// continuous tone (1000 Hz, or "tone:<Hz>") as 20 ms PCMU or PCMA frames,
// whichever the offer lists first. It returns the answer SDP. The call is
// ended with Delete.
func (e *Engine) Serve(ctx context.Context, r ServeRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.CallID == "" || r.FromTag == "" {
		return nil, fmt.Errorf("%w: call ID and from-tag are required", ErrBadRequest)
	}
	if room, ok, err := conferenceRoom(r.Service); ok {
		if err != nil {
			return nil, err
		}
		c, err := e.lockCall(r.CallID, true)
		if err != nil {
			return nil, err
		}
		e.kernelYield(c)
		defer c.mu.Unlock()
		fresh := len(c.order) == 0
		out, err := e.serveConference(c, r, room)
		if err != nil && fresh {
			e.dropCall(c)
		}
		e.logResult("serve conference", r.CallID, r.FromTag, 1, err)
		return out, err
	}
	kind, freq, err := parseService(r.Service)
	if err != nil {
		return nil, err
	}
	sd, streams, err := parseSDP(r.SDP)
	if err != nil {
		return nil, err
	}
	toneIdx, tonePT, toneName := -1, "", ""
	if kind == serviceTone {
		toneIdx, tonePT, toneName = pickG711(streams)
		if toneIdx < 0 {
			return nil, fmt.Errorf("%w: tone needs PCMU or PCMA in an audio stream", ErrBadSDP)
		}
		for i := range streams { // other streams are rejected
			if i != toneIdx {
				streams[i].port = 0
			}
		}
	}
	c, err := e.lockCall(r.CallID, true)
	if err != nil {
		return nil, err
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	fresh := len(c.order) == 0
	out, err := e.serve(c, r, sd, streams, kind, freq, toneIdx, tonePT, toneName, playAnswer{idx: -1})
	if err != nil && fresh {
		e.dropCall(c)
	}
	e.logResult("serve "+kind, r.CallID, r.FromTag, len(streams), err)
	return out, err
}

// servedMonologue returns the monologue of tag that a local service
// answers, created or moved onto the interface's pool; a monologue that is
// relayed to another participant cannot be served.
func (e *Engine) servedMonologue(c *call, tag, iface, callID string) (*monologue, error) {
	a := c.mono[tag]
	var prev *pool
	if a != nil {
		prev = a.pool
	}
	p, err := e.pool(iface, prev)
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = c.newMono(tag, p)
		a.tap = e.baseTap(c.id)
	} else if a.pool != p {
		e.releaseMonologue(a)
		a.pool = p
	}
	if a.other != nil {
		return nil, fmt.Errorf("%w: call %q is relayed, not served", ErrBadRequest, callID)
	}
	return a, nil
}

// serve answers an offer from the served monologue's own endpoints, with
// its own keys when the offer is secure (SDES or DTLS-SRTP), and runs the
// service kind on it (Play passes no kind and starts its player itself;
// pa says how its answer is made).
func (e *Engine) serve(c *call, r ServeRequest, sd *sdp.SessionDescription, streams []sdpStream,
	kind string, freq float64, toneIdx int, tonePT, toneName string, pa playAnswer) ([]byte, error) {
	a, err := e.servedMonologue(c, r.FromTag, r.Interface, r.CallID)
	if err != nil {
		return nil, err
	}
	if c.svc != nil {
		c.svc.stop()
		c.svc = nil
	}
	if err := e.ensureEndpoints(a, streams, true); err != nil {
		return nil, err
	}
	ports := make([]int, len(streams))
	mux := make([]bool, len(streams))
	for i := range streams {
		st := &streams[i]
		ep := a.eps[i]
		if ep == nil {
			continue
		}
		ep.media = st.media
		ep.offeredMux = st.mux
		ep.setPeer(st.rtpAddr(), st.rtcp, st.mux)
		ep.params.Store(&mediaParams{clock: st.clock})
		ep.hold.Store(st.hold())
		weSend := st.dir == dirSendRecv || st.dir == dirRecvOnly
		if kind == serviceEcho && weSend {
			ep.partner.Store(ep)
		} else {
			ep.partner.Store(nil)
		}
		ports[i], mux[i] = int(ep.local.Port()), st.mux
	}
	sec, err := e.answerSecure(a, sd, pa.ice)
	if err != nil {
		return nil, err
	}
	if err := rewrite(sd, rewriteOpts{addr: a.pool.cfg.Advertised, ports: ports, mux: mux, flags: &Flags{},
		ice: a.ice, sec: sec, fingerprint: e.id.fingerprint}); err != nil {
		return nil, err
	}
	for i, md := range sd.MediaDescriptions {
		dir := mirror(streams[i].dir)
		md.Attributes = append(dropDirection(md.Attributes), sdp.NewPropertyAttribute(dir))
		if i == toneIdx {
			md.MediaName.Formats = []string{tonePT}
			if err := filterCodecs(md, []string{toneName}); err != nil {
				return nil, err
			}
		}
		if i == pa.idx {
			declareSSRC(md, pa.ssrc, pa.declare)
		}
	}
	sd.Attributes = dropDirection(sd.Attributes)
	if kind == serviceTone {
		ep := a.eps[toneIdx]
		pt, _ := strconv.Atoi(tonePT)
		dir := streams[toneIdx].dir
		if dir == dirSendRecv || dir == dirRecvOnly {
			c.svc = e.startTone(ep, uint8(pt), toneName == "pcma", freq)
		}
	}
	c.lastSig.Store(monoNow())
	return a.origin.stamp(sd, true, a.pool.cfg.Advertised, e.sessionID())
}

func dropDirection(attrs []sdp.Attribute) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		switch a.Key {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			continue
		}
		out = append(out, a)
	}
	return out
}

// pickG711 finds the first active audio stream that lists PCMU or PCMA and
// returns its index, the payload type and the codec name listed first.
func pickG711(streams []sdpStream) (int, string, string) {
	for i, st := range streams {
		if st.media != "audio" || st.port == 0 {
			continue
		}
		for _, f := range st.order {
			if n := st.names[f]; (n == "pcmu" || n == "pcma") && st.clock[ptOf(f)] == 8000 {
				return i, f, n
			}
		}
	}
	return -1, "", ""
}

func ptOf(f string) int {
	pt, err := strconv.Atoi(f)
	if err != nil || pt < 0 || pt > 127 {
		return 0
	}
	return pt
}

// startTone starts the goroutine that sends the tone on ep.
func (e *Engine) startTone(ep *endpoint, pt uint8, alaw bool, freq float64) *service {
	s := &service{quit: make(chan struct{}), done: make(chan struct{})}
	gen, err := codecs.NewTone(8000, freq, toneLevel)
	if err != nil { // parseService bounds freq; keep the call silent if not
		e.log.Error("tone generator", "err", err)
		close(s.done)
		return s
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(s.done)
		e.play(&playOut{ep: ep}, gen, pt, alaw, nil, 0, 0, s.quit)
	}()
	return s
}
