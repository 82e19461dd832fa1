package rtpengine

// Transcoding in the offer/answer: which formats each side is offered,
// the pipeline planned from the answer, and the SDP rewritten for it.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openborder/openborder/rtpengine/transcode"
	"github.com/pion/sdp/v3"
)

// format is one payload format of an m= line with its attributes.
type format struct {
	pt     string
	name   string // lower case
	clock  uint32
	rtpmap string   // value of a=rtpmap ("" for a static type without one)
	fmtp   []string // values of a=fmtp
}

// xoffer is what an offerer's m= line says, kept for a transcoded answer.
type xoffer struct {
	formats []format
	codec   format // the offerer's first codec we can transcode
	event   format // its telephone-event (pt "" if none)
	ptime   int    // a=ptime, ms (0 if none)
	// declare: the offerer is a WebRTC (ICE or DTLS) endpoint; its answer
	// names the SSRC sbcd's transcoder sends from (see declareSSRC).
	declare bool
}

func isAux(name string) bool { return name == transcode.TelephoneEvent || name == "cn" }

// mediaFormats lists the formats of an m= line in order.
func mediaFormats(md *sdp.MediaDescription, st *sdpStream) []format {
	out := make([]format, 0, len(st.order))
	for _, f := range st.order {
		out = append(out, format{pt: f, name: st.names[f], clock: st.clock[ptOf(f)]})
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		pt, _, _ := strings.Cut(a.Value, " ")
		for i := range out {
			if out[i].pt == pt {
				if a.Key == "rtpmap" {
					out[i].rtpmap = a.Value
				} else {
					out[i].fmtp = append(out[i].fmtp, a.Value)
				}
			}
		}
	}
	return out
}

// planTranscode decides whether an offered m= line needs transcoding
// under the codec restriction keep, and if so returns what the offerer
// said and the formats to offer the other side instead.
func (e *Engine) planTranscode(md *sdp.MediaDescription, st *sdpStream, keep []string) (*xoffer, []format) {
	if e.cfg.Transcode.Disabled || len(keep) == 0 || st.media != "audio" || st.port == 0 {
		return nil, nil
	}
	fs := mediaFormats(md, st)
	xo := &xoffer{formats: fs, ptime: st.ptime, declare: webrtcMedia(md)}
	for _, f := range fs {
		if isAux(f.name) {
			continue
		}
		if slices.ContainsFunc(keep, func(k string) bool { return strings.EqualFold(k, f.name) }) {
			return nil, nil // a codec both sides take: no transcoding
		}
		if xo.codec.pt == "" && transcode.Supported(f.name) && (f.name != transcode.Opus || f.clock == 48000) {
			xo.codec = f
		}
	}
	if xo.codec.pt == "" {
		return nil, nil
	}
	for _, f := range fs {
		if f.name == transcode.TelephoneEvent && xo.event.pt == "" {
			xo.event = f
		}
	}
	var out []format
	var evClock uint32
	for _, k := range keep {
		k = strings.ToLower(k)
		switch k {
		case transcode.PCMU:
			out = append(out, format{pt: "0", name: k, clock: 8000, rtpmap: "0 PCMU/8000"})
		case transcode.PCMA:
			out = append(out, format{pt: "8", name: k, clock: 8000, rtpmap: "8 PCMA/8000"})
		case transcode.G722:
			out = append(out, format{pt: "9", name: k, clock: 8000, rtpmap: "9 G722/8000"})
		case transcode.Opus:
			out = append(out, limitOpus(format{pt: "111", name: k, clock: 48000, rtpmap: "111 opus/48000/2",
				fmtp: []string{"111 minptime=10;useinbandfec=1"}}, audioRate(xo.codec.name)))
		default:
			continue
		}
		if evClock == 0 {
			evClock = out[len(out)-1].clock
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if xo.event.pt != "" && slices.ContainsFunc(keep, func(k string) bool { return strings.EqualFold(k, transcode.TelephoneEvent) }) {
		c := strconv.Itoa(int(evClock))
		out = append(out, format{pt: "101", name: transcode.TelephoneEvent, clock: evClock,
			rtpmap: "101 telephone-event/" + c, fmtp: []string{"101 0-16"}})
	}
	return xo, out
}

// setFormats replaces an m= line's formats and their rtpmap/fmtp lines.
func setFormats(md *sdp.MediaDescription, fs []format) {
	md.MediaName.Formats = md.MediaName.Formats[:0]
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb", "ptime", "maxptime":
			return true
		}
		return false
	})
	for _, f := range fs {
		md.MediaName.Formats = append(md.MediaName.Formats, f.pt)
		if f.rtpmap != "" {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", f.rtpmap))
		}
		for _, v := range f.fmtp {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("fmtp", v))
		}
	}
}

// pipePtime picks a leg's outgoing packet duration from its a=ptime.
func pipePtime(ms int, codec string) time.Duration {
	switch ms {
	case 10, 20, 40:
		return time.Duration(ms) * time.Millisecond
	case 30:
		if codec != transcode.Opus {
			return 30 * time.Millisecond
		}
	}
	return transcode.DefaultPtime
}

func ptByte(f format) uint8 {
	if f.pt == "" {
		return 0
	}
	return uint8(ptOf(f.pt))
}

// answerTranscode installs the two pipelines of a transcoded stream once
// the answer (the m= line md of the answerer behind eb) is known, and
// rewrites md into the answer for the offerer behind ea.
func (e *Engine) answerTranscode(c *call, a, b *monologue, ea, eb *endpoint, xo *xoffer, md *sdp.MediaDescription, st *sdpStream) error {
	fs := mediaFormats(md, st)
	var bc, bev format
	for _, f := range fs {
		switch {
		case f.name == transcode.TelephoneEvent:
			if bev.pt == "" {
				bev = f
			}
		case bc.pt == "" && transcode.Supported(f.name):
			bc = f
		}
	}
	if bc.pt == "" {
		return fmt.Errorf("%w: the answer chose none of the offered transcodable codecs %v", ErrNoCodec, st.order)
	}
	if max := e.cfg.Transcode.MaxSessions; max > 0 && ea.xcode.Load() == nil && int(e.xp.live.Load()/2) >= max {
		return fmt.Errorf("%w: transcoding capacity (%d sessions) reached", ErrNoCodec, max)
	}
	aEv, bEv := ptByte(xo.event), ptByte(bev)
	withDTMF := a.dtmf != "" && b.dtmf != ""
	switch {
	case !withDTMF && (aEv == 0 || bEv == 0):
		aEv, bEv = 0, 0 // events pass only between two telephone-event sides
	case withDTMF && a.dtmf != DTMFRFC4733:
		aEv = 0
	}
	if withDTMF && b.dtmf != DTMFRFC4733 {
		bEv = 0
	}
	tc := &e.cfg.Transcode
	// Both directions of a call run on one worker (the pool's workers
	// take calls in turn): a worker gets as many expensive directions
	// (towards Opus) as cheap ones, and a call's two codecs share a cache.
	var worker chan xjob
	if tc.Workers > 0 {
		worker = e.xp.workers[int(e.xp.next.Add(1))%len(e.xp.workers)]
	}
	mk := func(in, out format, inEv, outEv uint8, ptime int, to *endpoint, from, dst *monologue) (*xstream, error) {
		x := &xstream{e: e, out: to, pool: e.xp, lastSR: monoNow() - int64(srInterval-srFirst)}
		var dc *transcode.DTMF
		if withDTMF {
			dc = &transcode.DTMF{Detect: from.dtmf == DTMFInband, Out: pipeDTMFOut(dst.dtmf)}
			callID, tag := c.id, from.tag
			dc.OnDigit = func(key byte, dur time.Duration, method string) {
				e.reportDigit(callID, tag, key, dur, method)
			}
		}
		p, err := transcode.New(transcode.Config{
			In:  transcode.Codec{Name: in.name, PT: ptByte(in)},
			Out: transcode.Codec{Name: out.name, PT: ptByte(out)}, InEventPT: inEv, OutEventPT: outEv,
			Ptime: pipePtime(ptime, out.name), Depth: tc.Depth,
			OpusComplexity: tc.OpusComplexity, OpusBitrate: tc.OpusBitrate, OpusFEC: tc.OpusFEC,
			OpusVoIP: tc.OpusVoIP, DTMF: dc, Output: x.send,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoCodec, err)
		}
		x.pipe = p
		x.worker = worker
		return x, nil
	}
	ab, err := mk(xo.codec, bc, aEv, bEv, st.ptime, eb, a, b)
	if err != nil {
		return err
	}
	ba, err := mk(bc, xo.codec, bEv, aEv, xo.ptime, ea, b, a)
	if err != nil {
		return err
	}
	if ea.xcode.Load() == nil {
		e.xp.started.Add(1)
	}
	e.setXcode(ea, ab)
	e.setXcode(eb, ba)
	answer := []format{limitOpus(xo.codec, audioRate(bc.name))}
	if aEv != 0 {
		answer = append(answer, xo.event)
	}
	setFormats(md, answer)
	if xo.ptime != 0 {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("ptime", strconv.Itoa(xo.ptime)))
	}
	declareSSRC(md, ba.pipe.SSRC(), xo.declare)
	e.log.Debug("transcoding", "a_to_b", ab.pipe.String(), "b_to_a", ba.pipe.String())
	return nil
}

// audioRate is the audio sample rate of a codec the engine transcodes
// from or to Opus (G.722 carries 16 kHz audio under its 8000 clock); 0
// for Opus itself, which takes any.
func audioRate(codec string) int {
	switch codec {
	case transcode.PCMU, transcode.PCMA:
		return 8000
	case transcode.G722:
		return 16000
	}
	return 0
}

// limitOpus returns the Opus format f with maxplaybackrate and
// sprop-maxcapturerate (RFC 7587) set to rate in its fmtp: the other leg
// of a transcoded stream neither plays nor captures wider audio than
// rate, so the Opus peer's encoder has no reason to code it, and wider
// audio would only cost the engine's decoder more. Other formats, and
// rate 0, leave f as it is.
func limitOpus(f format, rate int) format {
	if f.name != transcode.Opus || rate == 0 {
		return f
	}
	r := strconv.Itoa(rate)
	set := map[string]string{"maxplaybackrate": r, "sprop-maxcapturerate": r}
	var params []string
	for _, v := range f.fmtp {
		pt, ps, _ := strings.Cut(v, " ")
		if pt != f.pt {
			continue
		}
		for _, p := range strings.Split(ps, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if _, ours := set[strings.ToLower(k)]; !ours && strings.TrimSpace(p) != "" {
				params = append(params, strings.TrimSpace(p))
			}
		}
	}
	params = append(params, "maxplaybackrate="+r, "sprop-maxcapturerate="+r)
	fmtp := []string{f.pt + " " + strings.Join(params, ";")}
	for _, v := range f.fmtp {
		if pt, _, _ := strings.Cut(v, " "); pt != f.pt {
			fmtp = append(fmtp, v)
		}
	}
	f.fmtp = fmtp
	return f
}

// pipeDTMFOut maps a receiving leg's DTMF mode to its pipeline's output.
func pipeDTMFOut(mode string) transcode.DTMFOut {
	switch mode {
	case DTMFInband:
		return transcode.DTMFTones
	case DTMFInfo:
		return transcode.DTMFDrop
	}
	return transcode.DTMFEvents // tones when that side took no telephone-event
}

// webrtcMedia reports whether an offered m= line comes from a WebRTC
// endpoint: ICE credentials, a DTLS fingerprint or a DTLS transport.
func webrtcMedia(md *sdp.MediaDescription) bool {
	for _, k := range []string{"ice-ufrag", "fingerprint"} {
		if _, ok := md.Attribute(k); ok {
			return true
		}
	}
	return slices.Contains(md.MediaName.Protos, "TLS")
}

// declareSSRC removes the source attributes from a transcoded answer (the
// answerer's a=ssrc/msid lines describe a stream the offerer never
// receives) and, for a WebRTC offerer (declare), names the transcoder's
// own outgoing SSRC with a CNAME and an msid instead. A WebRTC offerer
// that demultiplexes its BUNDLE by SSRC, without the MID header extension
// (pion, for one), drops RTP from an SSRC its answer did not declare
// (RFC 8843 section 9.2).
func declareSSRC(md *sdp.MediaDescription, ssrc uint32, declare bool) {
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "ssrc", "ssrc-group", "msid":
			return true
		}
		return false
	})
	if !declare {
		return
	}
	id := strconv.FormatUint(uint64(ssrc), 10)
	name := fmt.Sprintf("openborder-%08x", ssrc)
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("msid", name+" audio-"+id),
		sdp.NewAttribute("ssrc", id+" cname:"+name),
		sdp.NewAttribute("ssrc", id+" msid:"+name+" audio-"+id))
}
