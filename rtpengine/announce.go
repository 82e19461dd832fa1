package rtpengine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/tones"
	"github.com/openborder/openborder/rtpengine/transcode"
	"github.com/pion/sdp/v3"
)

// maxPlay bounds a playback (announcements and local ringback).
const maxPlay = 10 * time.Minute

// PlayRequest asks the engine to answer an offer from FromTag with early
// media of its own: a call-progress tone of a country's table, or PCM
// (8 kHz mono, an announcement). The stream is answered from the
// endpoint the call already has towards FromTag (a relayed call waiting
// for its callee: local ringback, an announcement before a failure), or
// from a new one on Interface.
type PlayRequest struct {
	CallID, FromTag string
	// SDP is the offer FromTag made.
	SDP       []byte
	Interface string
	// Country and Tone name a tone of codecs/tones (e.g. "UK", "ringback").
	Country, Tone string
	// PCM is played once (then silence) when Tone is empty.
	PCM []int16
	// Duration stops the playback after this long. Default: a tone plays
	// until StopPlay or Delete, PCM for its length.
	Duration time.Duration
	// ICE answers as ICE-lite (a WebRTC offerer): the played media then
	// goes only to the address the peer's connectivity checks nominated
	// (or its media latched), while it keeps its consent fresh.
	ICE bool
}

// pcmSource feeds a playback: a tone generator or pcmClip.
type pcmSource interface{ Read(dst []int16) }

// pcmClip plays samples once, then silence.
type pcmClip struct {
	pcm []int16
	pos int
}

func (p *pcmClip) Read(dst []int16) {
	n := copy(dst, p.pcm[min(p.pos, len(p.pcm)):])
	p.pos += n
	clear(dst[n:])
}

// Play answers r.SDP with the engine's own early media and plays the
// tone or PCM into it; it returns the answer and how long the playback
// lasts (0: until StopPlay). It plays in PCMU or PCMA when the offer has
// one, else in G.722 or Opus (through a transcoding pipeline).
//
// A secure offer is answered with the leg's own keys: an SDES-SRTP offer
// with our a=crypto line, a DTLS-SRTP one with our fingerprint and the
// handshake on the media port. The played frames are protected with the
// leg's outgoing SRTP context, the one the relay uses once the far end
// answers (the answer keeps the keys, see offererSide); they carry an SSRC
// of their own, which an answer to a WebRTC offerer declares. Frames due
// before a DTLS handshake has given keys are dropped (counted as dropped).
// A call plays one thing at a time: a new Play replaces the last one.
func (e *Engine) Play(ctx context.Context, r PlayRequest) ([]byte, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if r.CallID == "" || r.FromTag == "" {
		return nil, 0, fmt.Errorf("%w: call ID and from-tag are required", ErrBadRequest)
	}
	var src pcmSource
	length := r.Duration
	switch {
	case r.Tone != "":
		t, err := tones.Lookup(r.Country, tones.Name(r.Tone))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		g, err := tones.NewGenerator(t, 8000)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		src = g
	case len(r.PCM) > 0:
		src = &pcmClip{pcm: r.PCM}
		if pl := time.Duration(len(r.PCM)) * time.Second / 8000; length == 0 || pl < length {
			length = pl
		}
	default:
		return nil, 0, fmt.Errorf("%w: nothing to play", ErrBadRequest)
	}
	length = min(length, maxPlay)
	sd, streams, err := parseSDP(r.SDP)
	if err != nil {
		return nil, 0, err
	}
	idx, pt, name := pickPlayCodec(streams)
	if idx < 0 {
		return nil, 0, fmt.Errorf("%w: playback needs PCMU, PCMA, G.722 or Opus in an audio stream", ErrBadSDP)
	}
	if protos := sd.MediaDescriptions[idx].MediaName.Protos; strings.Contains(strings.Join(protos, "/"), "SAVP") &&
		!isSecureProto(protos) && !isDTLSProto(protos) {
		return nil, 0, fmt.Errorf("%w: playback cannot serve %s", ErrBadSDP, strings.Join(protos, "/"))
	}
	// The played stream's SSRC, declared to a WebRTC offerer (which may
	// take no undeclared source).
	pa := playAnswer{ice: r.ICE, idx: idx, ssrc: randomSSRC()}
	pa.declare = webrtcMedia(sd.MediaDescriptions[idx])
	c, err := e.lockCall(r.CallID, true)
	if err != nil {
		return nil, 0, err
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	var out []byte
	a := c.mono[r.FromTag]
	if a == nil || a.other == nil {
		fresh := len(c.order) == 0
		for i := range streams { // only the played stream is answered
			if i != idx {
				streams[i].port = 0
			}
		}
		out, err = e.serve(c, ServeRequest{CallID: r.CallID, FromTag: r.FromTag, SDP: r.SDP, Interface: r.Interface},
			sd, streams, "", 0, idx, pt, name, pa)
		if err != nil {
			if fresh {
				e.dropCall(c)
			}
			return nil, 0, err
		}
		a = c.mono[r.FromTag]
	} else {
		if out, err = e.earlyAnswer(a, sd, streams, idx, pt, name, pa); err != nil {
			return nil, 0, err
		}
	}
	ep := a.eps[idx]
	if ep == nil {
		return nil, 0, fmt.Errorf("%w: stream %d of %q has no ports", ErrBadRequest, idx, r.FromTag)
	}
	ptn, _ := strconv.Atoi(pt)
	po := &playOut{ep: ep}
	var pipe *transcode.Pipeline
	if name != transcode.PCMU && name != transcode.PCMA {
		// Another codec: the G.711 frames go through a transcoding
		// pipeline into the caller's codec, which sends from pa.ssrc.
		pipe, err = transcode.New(transcode.Config{In: transcode.Codec{Name: transcode.PCMU},
			Out: transcode.Codec{Name: name, PT: uint8(ptn)}, SSRC: pa.ssrc, Output: po.send})
		if err != nil {
			return nil, 0, fmt.Errorf("%w: playback in %s: %w", ErrBadSDP, name, err)
		}
	}
	if c.player != nil {
		c.player.stop()
	}
	c.player = e.startPlayer(po, src, uint8(ptn), name == "pcma", pipe, pa.ssrc, length)
	e.log.Debug("play", "call_id", r.CallID, "tag", r.FromTag, "tone", r.Tone, "length", length)
	return out, length, nil
}

// StopPlay stops what Play started in the call, if anything.
func (e *Engine) StopPlay(callID string) {
	c, err := e.lockCall(callID, false)
	if err != nil {
		return
	}
	e.kernelYield(c)
	defer c.mu.Unlock()
	if c.player != nil {
		c.player.stop()
		c.player = nil
	}
}

// playAnswer is how Play's answer is made: as ICE-lite (ice), and with
// the played stream idx's SSRC declared (declare, a WebRTC offerer).
type playAnswer struct {
	ice, declare bool
	idx          int
	ssrc         uint32
}

// randomSSRC is a fresh non-zero SSRC.
func randomSSRC() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

// answerSecure keys the endpoints of a served or early-answered monologue
// a from the offer sd (SDES keys, DTLS session, ICE-lite credentials when
// ice) and returns the security our answer carries. Called with the
// call's lock held.
func (e *Engine) answerSecure(a *monologue, sd *sdp.SessionDescription, ice bool) (secureOpts, error) {
	n := len(sd.MediaDescriptions)
	o := secureOpts{crypto: make([][]cryptoAttr, n), setup: make([]string, n), protos: make([][]string, n)}
	if ice {
		a.setICE(iceForce)
		a.publishICE()
	}
	for i, md := range sd.MediaDescriptions {
		if i >= len(a.eps) || a.eps[i] == nil || md.MediaName.Port.Value == 0 {
			continue
		}
		ep := a.eps[i]
		ep.recordPeerSecurity(sd, md)
		var err error
		if o.crypto[i], o.setup[i], err = e.offererSide(ep); err != nil {
			return o, fmt.Errorf("%w: m= line %d: %w", ErrBadSDP, i+1, err)
		}
		o.protos[i] = ep.peerProtos
	}
	return o, nil
}

// earlyAnswer answers the offer of a relayed call's monologue a from
// a's own endpoints, and with its own keys, with one codec (and the
// offer's telephone-event). Called with the call's lock held.
func (e *Engine) earlyAnswer(a *monologue, sd *sdp.SessionDescription, streams []sdpStream, idx int, pt, name string, pa playAnswer) ([]byte, error) {
	ports := make([]int, len(streams))
	mux := make([]bool, len(streams))
	for i := range streams {
		if i < len(a.eps) && a.eps[i] != nil && i == idx {
			ports[i], mux[i] = int(a.eps[i].local.Port()), streams[i].mux && a.eps[i].mux.Load()
		} else {
			sd.MediaDescriptions[i].MediaName.Port.Value = 0
		}
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
		if i != idx {
			md.MediaName.Port.Value = 0
			continue
		}
		keep := []string{name}
		if ev := eventPT(streams[i].names); ev >= 0 {
			keep = append(keep, "telephone-event")
		}
		if err := filterCodecs(md, keep); err != nil {
			return nil, err
		}
		md.MediaName.Formats = append([]string{pt}, removeString(md.MediaName.Formats, pt)...)
		md.Attributes = append(dropDirection(md.Attributes), sdp.NewPropertyAttribute(mirror(streams[i].dir)))
		declareSSRC(md, pa.ssrc, pa.declare)
	}
	sd.Attributes = dropDirection(sd.Attributes)
	return a.origin.stamp(sd, true, a.pool.cfg.Advertised, e.sessionID())
}

func removeString(s []string, x string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// startPlayer starts the goroutine that sends src through out as 20 ms
// G.711 frames for length (0: until stopped).
func (e *Engine) startPlayer(out *playOut, src pcmSource, pt uint8, alaw bool, pipe *transcode.Pipeline, ssrc uint32, length time.Duration) *service {
	s := &service{quit: make(chan struct{}), done: make(chan struct{})}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(s.done)
		e.play(out, src, pt, alaw, pipe, ssrc, length, s.quit)
	}()
	return s
}

// playOut sends the packets of one playback to its endpoint's peer. It is
// used by the playback's goroutine only.
type playOut struct {
	ep *endpoint
	// buf holds a packet protected for a secure leg.
	buf [readBufSize + 64]byte
}

// ready returns where a packet of the playback goes now: the latched
// address (with ICE, only the nominated one while consent is fresh). A
// secure leg without keys yet (DTLS still handshaking) and an ICE leg not
// yet checked take nothing: the packet is counted as dropped.
func (o *playOut) ready() (netip.AddrPort, bool) {
	ep := o.ep
	dst := ep.rtpDest()
	if ep.ice.Load() != nil {
		lat := ep.latRTP.Load()
		if lat == nil || !ep.hasConsent(monoNow()) {
			ep.c.dropped.Add(1)
			return dst, false
		}
		dst = *lat
	}
	if ep.tx.Load() == nil && ep.secure.Load() {
		ep.c.dropped.Add(1)
		return dst, false
	}
	return dst, usable(dst)
}

// send sends one packet of a playback to the endpoint's peer, protected
// with the leg's outgoing SRTP context when it has one.
func (o *playOut) send(pkt []byte) {
	ep := o.ep
	dst, ok := o.ready()
	if !ok {
		return
	}
	if tx := ep.tx.Load(); tx != nil {
		out, ok := tx.encrypt(o.buf[:0], pkt)
		if !ok {
			ep.c.srtpErrors.Add(1)
			ep.c.dropped.Add(1)
			return
		}
		pkt = out
	}
	if _, err := ep.pp.rtp.write(pkt, dst); err == nil {
		ep.c.packetsOut.Add(1)
		ep.c.bytesOut.Add(uint64(len(pkt)))
	}
}

// play sends src as 20 ms G.711 frames through out (or, through pipe, in
// another codec: pipe is then fed PCMU with payload type 0) from a random
// sequence number and timestamp, with SSRC ssrc (0: random), for length
// (0: until quit or engine close). It serves announcements, ringback and
// the tone service. The stream starts with the first frame the leg can
// take (a secure leg's keys exist, an ICE leg's address is nominated):
// frames due before are read from src, keeping its cadence, and dropped
// unencoded, so that an encoder (pipe) and the peer's decoder start
// together.
func (e *Engine) play(out *playOut, src pcmSource, pt uint8, alaw bool, pipe *transcode.Pipeline, ssrc uint32, length time.Duration, quit <-chan struct{}) {
	if pipe != nil {
		pt, alaw = 0, false
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	seq := binary.BigEndian.Uint16(rnd[0:])
	ts := binary.BigEndian.Uint32(rnd[2:])
	if ssrc == 0 {
		ssrc = randomSSRC()
	}
	var pcm [toneFrame]int16
	var pkt [12 + toneFrame]byte
	pkt[0] = 0x80
	binary.BigEndian.PutUint32(pkt[8:], ssrc)
	frames := -1 // length 0: until quit
	if length > 0 {
		frames = int((length + tonePtime - 1) / tonePtime)
	}
	t := time.NewTicker(tonePtime)
	defer t.Stop()
	started := false
	for i := 0; frames < 0 || i < frames; i++ {
		select {
		case <-quit:
			return
		case <-e.stop:
			return
		case <-t.C:
		}
		src.Read(pcm[:])
		if !started {
			if _, ok := out.ready(); !ok {
				continue
			}
		}
		if alaw {
			codecs.AlawEncodeFrame(pkt[12:], pcm[:])
		} else {
			codecs.UlawEncodeFrame(pkt[12:], pcm[:])
		}
		pkt[1] = pt
		if !started {
			pkt[1] |= 0x80 // marker: start of a talkspurt
			started = true
		}
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], ts)
		if pipe != nil {
			_ = pipe.HandleRTP(pkt[:])
		} else {
			out.send(pkt[:])
		}
		seq++
		ts += toneFrame
	}
	select { // done playing: wait to be stopped
	case <-quit:
	case <-e.stop:
	}
}

// pickPlayCodec finds the stream and codec a playback is sent in: the
// first PCMU or PCMA (no transcoding), else the first G.722 or Opus.
func pickPlayCodec(streams []sdpStream) (int, string, string) {
	if i, pt, name := pickG711(streams); i >= 0 {
		return i, pt, name
	}
	for i, st := range streams {
		if st.media != "audio" || st.port == 0 {
			continue
		}
		for _, f := range st.order {
			n, clock := st.names[f], st.clock[ptOf(f)]
			if n == transcode.G722 && clock == 8000 || n == transcode.Opus && clock == 48000 {
				return i, f, n
			}
		}
	}
	return -1, "", ""
}
