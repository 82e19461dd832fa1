package rtpengine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/openborder/openborder/rtpengine/conference"
	"github.com/pion/sdp/v3"
)

// serviceConference is the service prefix of conference rooms:
// "conference:<room>".
const serviceConference = "conference"

// maxRoomName bounds a room name (the service's argument).
const maxRoomName = 64

// conferenceRoom returns the room of a "conference:<room>" service.
func conferenceRoom(s string) (string, bool, error) {
	room, ok := strings.CutPrefix(s, serviceConference+":")
	if !ok {
		return "", false, nil
	}
	if room == "" || len(room) > maxRoomName || strings.ContainsFunc(room, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return "", true, fmt.Errorf("%w: conference room %q (1-%d of A-Z a-z 0-9 - _ .)", ErrBadFlags, room, maxRoomName)
	}
	return room, true, nil
}

// confLeg sends a room's mix to one participant's peer. Its buffers are
// used by the room's goroutine only.
type confLeg struct {
	ep *endpoint
	cb cryptoBufs
}

// protect encrypts pkt for a secure leg; nil means drop it.
func (l *confLeg) protect(pkt []byte) []byte {
	p := l.ep
	if tx := p.tx.Load(); tx != nil {
		out, ok := tx.encrypt(l.cb.out[:0], pkt)
		if !ok {
			p.c.srtpErrors.Add(1)
			p.c.dropped.Add(1)
			return nil
		}
		return out
	}
	if p.secure.Load() {
		p.c.dropped.Add(1)
		return nil
	}
	return pkt
}

// sendRTCP sends a sender report the room generated for this leg.
func (l *confLeg) sendRTCP(pkt []byte) {
	p := l.ep
	conn, dst := p.rtcpDest()
	if !usable(dst) || !p.hasConsent(monoNow()) {
		return
	}
	if pkt = l.protect(pkt); pkt == nil {
		return
	}
	if _, err := conn.write(pkt, dst); err == nil {
		p.c.packetsOut.Add(1)
		p.c.bytesOut.Add(uint64(len(pkt)))
	}
}

func (l *confLeg) send(pkt []byte) {
	p := l.ep
	dst := p.rtpDest()
	if !usable(dst) || !p.hasConsent(monoNow()) || p.hold.Load() {
		return
	}
	if pkt = l.protect(pkt); pkt == nil {
		return
	}
	if _, err := p.pp.rtp.write(pkt, dst); err != nil {
		p.c.dropped.Add(1)
		return
	}
	p.c.packetsOut.Add(1)
	p.c.bytesOut.Add(uint64(len(pkt)))
}

// confKey identifies what a conference service serves, so a re-INVITE
// that changes nothing the mixer cares about keeps the participant.
func confKey(room string, f, ev format, ptime int) string {
	return fmt.Sprintf("%s|%s|%s|%s|%d", room, f.pt, f.name, ev.pt, ptime)
}

// pickConference finds the first active audio stream with a codec the
// mixer takes (in the offer's order) and its telephone-event of the same
// clock rate.
func pickConference(sd *sdp.SessionDescription, streams []sdpStream) (int, format, format) {
	for i := range streams {
		st := &streams[i]
		if st.media != "audio" || st.port == 0 {
			continue
		}
		fs := mediaFormats(sd.MediaDescriptions[i], st)
		for _, f := range fs {
			if !conference.Supported(f.name) || (f.name == conference.Opus) != (f.clock == 48000) {
				continue
			}
			var ev format
			for _, x := range fs {
				if x.name == "telephone-event" && x.clock == f.clock {
					ev = x
					break
				}
			}
			return i, f, ev
		}
	}
	return -1, format{}, format{}
}

// serveConference answers an offer by joining the call to a room. Called
// with c.mu held.
func (e *Engine) serveConference(c *call, r ServeRequest, room string) ([]byte, error) {
	sd, streams, err := parseSDP(r.SDP)
	if err != nil {
		return nil, err
	}
	idx, codec, ev := pickConference(sd, streams)
	if idx < 0 {
		return nil, fmt.Errorf("%w: a conference needs PCMU, PCMA, G.722 or Opus in an audio stream", ErrBadSDP)
	}
	for i := range streams {
		if i != idx {
			streams[i].port = 0
		}
	}
	a, err := e.servedMonologue(c, r.FromTag, r.Interface, r.CallID)
	if err != nil {
		return nil, err
	}
	st := &streams[idx]
	ptime := pipePtime(st.ptime, codec.name)
	key := confKey(room, codec, ev, int(ptime.Milliseconds()))
	if c.svc != nil && c.svc.key != key {
		c.svc.stop()
		c.svc = nil
	}
	if err := e.ensureEndpoints(a, streams, true); err != nil {
		return nil, err
	}
	ep := a.eps[idx]
	ep.media = st.media
	ep.offeredMux = st.mux
	ep.setPeer(st.rtpAddr(), st.rtcp, st.mux)
	ep.params.Store(&mediaParams{clock: st.clock})
	ep.hold.Store(st.hold())
	ep.partner.Store(nil)
	ports := make([]int, len(streams))
	mux := make([]bool, len(streams))
	ports[idx], mux[idx] = int(ep.local.Port()), st.mux
	if err := rewrite(sd, rewriteOpts{addr: a.pool.cfg.Advertised, ports: ports, mux: mux, flags: &Flags{}}); err != nil {
		return nil, err
	}
	for i, md := range sd.MediaDescriptions {
		md.Attributes = append(dropDirection(md.Attributes), sdp.NewPropertyAttribute(mirror(streams[i].dir)))
	}
	sd.Attributes = dropDirection(sd.Attributes)
	answer := []format{codec}
	if ev.pt != "" {
		answer = append(answer, ev)
	}
	md := sd.MediaDescriptions[idx]
	setFormats(md, answer)
	md.Attributes = append(md.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(int(ptime.Milliseconds()))))
	if c.svc == nil {
		leg := &confLeg{ep: ep}
		part, err := e.conf.Join(room, conference.ParticipantConfig{
			ID: c.id, Codec: codec.name, PT: ptByte(codec), EventPT: ptByte(ev), Ptime: ptime, Output: leg.send, OutputRTCP: leg.sendRTCP,
		})
		if err != nil {
			return nil, err
		}
		ep.conf.Store(part)
		done := make(chan struct{})
		close(done)
		c.svc = &service{quit: make(chan struct{}), done: done, key: key, close: func() {
			ep.conf.CompareAndSwap(part, nil)
			e.conf.Leave(part)
		}}
	}
	c.lastSig.Store(monoNow())
	return a.origin.stamp(sd, true, a.pool.cfg.Advertised, e.sessionID())
}

// Conferences describes the open conference rooms.
func (e *Engine) Conferences() []conference.RoomInfo { return e.conf.Rooms() }

// Conference describes one room (conference.ErrNotFound if it is not open).
func (e *Engine) Conference(room string) (conference.RoomInfo, error) { return e.conf.Room(room) }

// ConferenceStats returns the conference bridge's counts (rooms,
// participants, joins and refusals) for metrics.
func (e *Engine) ConferenceStats() conference.BridgeStats { return e.conf.Stats() }

// MuteConference mutes or unmutes a participant (its call ID) of a room.
func (e *Engine) MuteConference(room, callID string, muted bool) error {
	return e.conf.SetMuted(room, callID, muted)
}

// SetConferenceConfig replaces the conference settings (a policy
// reload); they apply to joins from now on.
func (e *Engine) SetConferenceConfig(cfg conference.Config) error {
	if cfg.Logger == nil {
		cfg.Logger = e.cfg.Logger
	}
	if err := e.conf.SetConfig(cfg); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}
