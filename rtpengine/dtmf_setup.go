package rtpengine

import (
	"slices"
	"strconv"
	"strings"

	"github.com/openborder/openborder/codecs/dtmf"
	"github.com/openborder/openborder/codecs/rfc4733"
	"github.com/pion/sdp/v3"
)

// Negotiation of DTMF between the legs: the legs' modes, the
// telephone-event payload types offered and answered, and the DSP each
// relayed G.711 stream gets.

// installDTMF gives each relayed audio stream of the pair a, b its DSP in
// both directions, once both peers' SDP is known. Called with c.mu held.
func (e *Engine) installDTMF(c *call, a, b *monologue) {
	for i := range a.eps {
		if i >= len(b.eps) {
			break
		}
		ea, eb := a.eps[i], b.eps[i]
		if ea == nil || eb == nil {
			continue
		}
		if a.dtmf == "" || b.dtmf == "" || ea.media != "audio" || ea.xcode.Load() != nil ||
			ea.peerNames == nil || eb.peerNames == nil {
			ea.dsp.Store(nil)
			eb.dsp.Store(nil)
			continue
		}
		ea.dsp.Store(e.newDSP(c, a, ea, eb))
		eb.dsp.Store(e.newDSP(c, b, eb, ea))
	}
}

// newDSP builds the DSP of packets from the peer of m (received on from)
// towards the peer behind to.
func (e *Engine) newDSP(c *call, m *monologue, from, to *endpoint) *dsp {
	d := &dsp{e: e, callID: c.id, tag: m.tag, in: m.dtmf, out: m.other.dtmf, suppress: c.dtmfSuppress,
		inEv: -1, outEv: -1, outAudio: -1, lastAudio: -1, samples: 160,
		digits: make([]rfc4733.Digit, 0, 4), events: make([]dtmf.Event, 0, 4)}
	d.inEv = eventPT(from.peerNames)
	d.outEv = eventPT(to.peerNames)
	for pt, name := range from.peerNames {
		n := ptOf(pt)
		switch name {
		case "pcmu":
			d.codec[n] = codecPCMU
		case "pcma":
			d.codec[n] = codecPCMA
		}
	}
	for _, pt := range sortedPTs(to.peerNames) {
		if n := to.peerNames[pt]; n == "pcmu" || n == "pcma" {
			d.outAudio = int16(ptOf(pt))
			break
		}
	}
	if d.out == DTMFRFC4733 && d.outEv < 0 {
		d.out = DTMFInband // the receiver took no telephone-event
	}
	if d.inEv >= 0 {
		d.rx, _ = rfc4733.NewReceiver(rfc4733.ReceiverConfig{})
	}
	if d.in == DTMFInband {
		if d.suppress && d.out != DTMFInband {
			d.sup, _ = dtmf.NewSuppressor(8000, dtmf.DetectorConfig{})
		} else {
			d.det, _ = dtmf.NewDetector(8000, dtmf.DetectorConfig{})
		}
		if d.sup == nil && d.det == nil {
			d.in = DTMFRFC4733
		}
	}
	if d.in == DTMFInband || d.out == DTMFInband {
		d.pcm = make([]int16, maxDSPFrame)
	}
	return d
}

func sortedPTs(names map[string]string) []string {
	pts := make([]string, 0, len(names))
	for pt := range names {
		pts = append(pts, pt)
	}
	slices.SortFunc(pts, func(x, y string) int { return ptOf(x) - ptOf(y) })
	return pts
}

// eventPT returns the lowest telephone-event payload type of a peer's SDP,
// or -1.
func eventPT(names map[string]string) int16 {
	for _, pt := range sortedPTs(names) {
		if names[pt] == "telephone-event" {
			return int16(ptOf(pt))
		}
	}
	return -1
}

// dtmfOfferSDP adjusts the offer for the other leg: a leg in info or
// inband mode is offered no telephone-event; an rfc4733 leg gets one when
// the offerer had none (the engine then converts).
func dtmfOfferSDP(md *sdp.MediaDescription, st *sdpStream, mode string) {
	if st.media != "audio" || st.port == 0 {
		return
	}
	if mode != DTMFRFC4733 {
		removeEvents(md)
		return
	}
	if hasEvent(md) || !hasG711(st) {
		return
	}
	for pt := 101; pt < 128; pt++ {
		if !slices.Contains(md.MediaName.Formats, strconv.Itoa(pt)) {
			addEvent(md, strconv.Itoa(pt))
			return
		}
	}
}

// dtmfAnswerSDP adjusts the answer for the offerer: no telephone-event for
// an info or inband offerer; for an rfc4733 offerer the telephone-event it
// offered, even when the answerer took none (the engine converts).
func dtmfAnswerSDP(md *sdp.MediaDescription, offered map[string]string, mode string) {
	if mode != DTMFRFC4733 {
		removeEvents(md)
		return
	}
	if hasEvent(md) {
		return
	}
	pt := eventPT(offered)
	if pt < 0 {
		return
	}
	f := strconv.Itoa(int(pt))
	if !slices.Contains(md.MediaName.Formats, f) {
		addEvent(md, f)
	}
}

func hasG711(st *sdpStream) bool {
	for _, n := range st.names {
		if n == "pcmu" || n == "pcma" {
			return true
		}
	}
	return false
}

func mdEventPTs(md *sdp.MediaDescription) []string {
	var pts []string
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, _ := strings.Cut(a.Value, " ")
		if name, _, _ := strings.Cut(enc, "/"); strings.EqualFold(name, "telephone-event") {
			pts = append(pts, pt)
		}
	}
	return pts
}

func hasEvent(md *sdp.MediaDescription) bool { return len(mdEventPTs(md)) > 0 }

func removeEvents(md *sdp.MediaDescription) {
	pts := mdEventPTs(md)
	if len(pts) == 0 || len(pts) == len(md.MediaName.Formats) {
		return
	}
	md.MediaName.Formats = slices.DeleteFunc(md.MediaName.Formats, func(f string) bool { return slices.Contains(pts, f) })
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			return false
		}
		pt, _, _ := strings.Cut(a.Value, " ")
		return slices.Contains(pts, pt)
	})
}

func addEvent(md *sdp.MediaDescription, pt string) {
	md.MediaName.Formats = append(md.MediaName.Formats, pt)
	at := len(md.Attributes)
	for i, a := range md.Attributes { // after the last rtpmap/fmtp
		if a.Key == "rtpmap" || a.Key == "fmtp" {
			at = i + 1
		}
	}
	md.Attributes = slices.Insert(md.Attributes, at,
		sdp.NewAttribute("rtpmap", pt+" telephone-event/8000"), sdp.NewAttribute("fmtp", pt+" 0-16"))
}

// dtmfOffer records the legs' DTMF modes and adjusts the offer sent to
// the other leg. Called with c.mu held.
func (e *Engine) dtmfOffer(c *call, a, b *monologue, sd *sdp.SessionDescription, streams []sdpStream, f *DTMFFlags) {
	if f == nil {
		a.dtmf, b.dtmf = "", ""
		e.installDTMF(c, a, b)
		return
	}
	a.dtmf, b.dtmf, c.dtmfSuppress = dtmfMode(f.From), dtmfMode(f.To), f.Suppress
	for i := range streams {
		if i >= len(a.eps) || a.eps[i] == nil {
			continue
		}
		if a.eps[i].xoffer == nil {
			dtmfOfferSDP(sd.MediaDescriptions[i], &streams[i], b.dtmf)
		} else if b.dtmf != DTMFRFC4733 {
			// A transcoded stream: the pipeline carries digits as tones
			// or leaves them to INFO.
			removeEvents(sd.MediaDescriptions[i])
		}
	}
	e.installDTMF(c, a, b)
}

// dtmfAnswer installs the DSPs once an answer is known. Called with c.mu held.
func (e *Engine) dtmfAnswer(c *call, a, b *monologue, f *DTMFFlags) {
	if f != nil {
		a.dtmf, b.dtmf, c.dtmfSuppress = dtmfMode(f.From), dtmfMode(f.To), f.Suppress
	}
	e.installDTMF(c, a, b)
}
