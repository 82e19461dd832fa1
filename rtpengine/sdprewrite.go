package rtpengine

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Flag values.
const (
	iceRemove = "remove"
	iceForce  = "force"

	muxOffer   = "offer"
	muxDemux   = "demux"
	muxAccept  = "accept"
	muxRequire = "require"
)

var transportProtocols = []string{"RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"}

// validate checks the flag values that have a fixed vocabulary.
func (f *Flags) validate() error {
	switch f.ICE {
	case "", iceRemove, iceForce:
	default:
		return fmt.Errorf("%w: ICE %q", ErrBadFlags, f.ICE)
	}
	switch f.RTCPMux {
	case "", muxOffer, muxDemux, muxAccept, muxRequire:
	default:
		return fmt.Errorf("%w: RTCPMux %q", ErrBadFlags, f.RTCPMux)
	}
	if f.TransportProtocol != "" && !slices.Contains(transportProtocols, f.TransportProtocol) {
		return fmt.Errorf("%w: transport protocol %q", ErrBadFlags, f.TransportProtocol)
	}
	return f.DTMF.validate()
}

// offerMux says whether an offer we send carries a=rtcp-mux, given whether
// the incoming offer did.
func offerMux(mode string, offered bool) bool {
	switch mode {
	case muxOffer, muxRequire:
		return true
	case muxDemux:
		return false
	}
	return offered
}

// answerMux says whether the answer we send to the offerer accepts
// rtcp-mux, given the offerer's offer and the answerer's answer. As the
// media is anchored, each side's rtcp-mux is independent of the other's.
func answerMux(mode string, offered, answered bool) bool {
	if !offered {
		return false
	}
	switch mode {
	case "":
		return answered
	case muxDemux:
		return false
	}
	return true
}

// iceCreds are our ICE-lite credentials towards one peer (ICE=force).
type iceCreds struct{ ufrag, pwd string }

// rewriteOpts says how to rewrite an SDP for one side.
type rewriteOpts struct {
	addr  netip.Addr // our advertised address
	ports []int      // our RTP port per m= line; 0 = rejected
	mux   []bool     // per m= line: a=rtcp-mux (else a=rtcp:port+1)
	flags *Flags
	ice   *iceCreds // non-nil: offer ICE-lite (host candidates)
	// sec carries our a=crypto lines, a=setup values and forced protocols
	// per m= line; fingerprint is our DTLS certificate's a=fingerprint.
	sec         secureOpts
	fingerprint string
	// formats, where set for an m= line, replace its formats (a
	// transcoded stream's offer to the other side); else Codecs filters.
	formats [][]format
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "IP4"
	}
	return "IP6"
}

// setConn points c at addr, keeping an unspecified address (c=0.0.0.0
// hold) as it is.
func setConn(c *sdp.ConnectionInformation, addr netip.Addr) {
	if c.Address != nil {
		if a, err := netip.ParseAddr(c.Address.Address); err == nil && a.IsUnspecified() {
			return
		}
	}
	c.NetworkType, c.AddressType = "IN", addrType(addr)
	c.Address = &sdp.Address{Address: addr.String()}
}

// isICEAttr reports ICE attributes (RFC 8839), removed unless we run ICE.
func isICEAttr(k string) bool {
	return strings.HasPrefix(k, "ice-") || k == "candidate" || k == "end-of-candidates" || k == "remote-candidates"
}

// isSecurityAttr reports the attributes of SDES-SRTP and DTLS-SRTP.
//
// Security is terminated per leg: each side must get keys of ours, never
// the other side's. Until SRTP/DTLS is implemented in this package these
// attributes are removed; the SRTP stage will replace them here with our
// own a=crypto / a=fingerprint / a=setup for the leg.
func isSecurityAttr(k string) bool {
	switch k {
	case "crypto", "fingerprint", "setup", "tls-id", "connection":
		return true
	}
	return false
}

// rewrite turns a peer's SDP into the SDP for the other side, anchored on
// our address and ports. The o= line is left to stampOrigin.
func rewrite(sd *sdp.SessionDescription, o rewriteOpts) error {
	if sd.ConnectionInformation != nil {
		setConn(sd.ConnectionInformation, o.addr)
	} else if o.flags.ReplaceSessionConnection {
		sd.ConnectionInformation = &sdp.ConnectionInformation{}
		setConn(sd.ConnectionInformation, o.addr)
	}
	sd.Attributes = slices.DeleteFunc(sd.Attributes, func(a sdp.Attribute) bool {
		return isICEAttr(a.Key) || a.Key == "ice-lite" || isSecurityAttr(a.Key) ||
			(a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE"))
	})
	if o.ice != nil {
		sd.Attributes = append(sd.Attributes, sdp.NewPropertyAttribute("ice-lite"))
	}
	for i, md := range sd.MediaDescriptions {
		// With ICE, c=0.0.0.0 is the placeholder of an offer sent before
		// (or without) a default candidate (RFC 8839 section 4.2.1), not
		// the old hold: the far side must get sbcd's address.
		_, ice := md.Attribute("ice-ufrag")
		md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
			return isICEAttr(a.Key) || isSecurityAttr(a.Key) || a.Key == "rtcp" || a.Key == "rtcp-mux" || a.Key == "rtcp-mux-only"
		})
		if md.MediaName.Port.Value == 0 || o.ports[i] == 0 {
			md.MediaName.Port = sdp.RangedPort{Value: 0}
			continue
		}
		if o.flags.TransportProtocol != "" && slices.Contains(md.MediaName.Protos, "RTP") {
			md.MediaName.Protos = strings.Split(o.flags.TransportProtocol, "/")
		}
		if i < len(o.sec.protos) && o.sec.protos[i] != nil && slices.Contains(md.MediaName.Protos, "RTP") {
			md.MediaName.Protos = slices.Clone(o.sec.protos[i])
		}
		if i < len(o.sec.crypto) {
			for _, c := range o.sec.crypto[i] {
				md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", c.String()))
			}
		}
		if i < len(o.sec.setup) && o.sec.setup[i] != "" {
			md.Attributes = append(md.Attributes,
				sdp.NewAttribute("fingerprint", o.fingerprint),
				sdp.NewAttribute("setup", o.sec.setup[i]))
		}
		md.MediaName.Port = sdp.RangedPort{Value: o.ports[i]}
		if md.ConnectionInformation != nil || sd.ConnectionInformation == nil {
			if md.ConnectionInformation == nil || ice {
				md.ConnectionInformation = &sdp.ConnectionInformation{}
			}
			setConn(md.ConnectionInformation, o.addr)
		}
		if len(o.flags.Codecs) > 0 {
			if i < len(o.formats) && o.formats[i] != nil {
				setFormats(md, o.formats[i])
			} else if err := filterCodecs(md, o.flags.Codecs); err != nil {
				return fmt.Errorf("m= line %d: %w", i+1, err)
			}
		}
		if o.mux[i] {
			md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute("rtcp-mux"))
		} else {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("rtcp", strconv.Itoa(o.ports[i]+1)))
		}
		if o.ice != nil {
			md.Attributes = append(md.Attributes,
				sdp.NewAttribute("ice-ufrag", o.ice.ufrag),
				sdp.NewAttribute("ice-pwd", o.ice.pwd),
				sdp.NewAttribute("candidate", hostCandidate(1, o.addr, o.ports[i])))
			if !o.mux[i] {
				md.Attributes = append(md.Attributes, sdp.NewAttribute("candidate", hostCandidate(2, o.addr, o.ports[i]+1)))
			}
			md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute("end-of-candidates"))
		}
	}
	return nil
}

// hostCandidate formats a host candidate (RFC 8839) for one component.
func hostCandidate(component int, addr netip.Addr, port int) string {
	prio := (126 << 24) | (65535 << 8) | (256 - component)
	return fmt.Sprintf("%d %d UDP %d %s %d typ host", component, component, prio, addr, port)
}

// filterCodecs keeps only the formats whose codec name is in keep (case
// insensitive), with their rtpmap/fmtp/rtcp-fb attributes.
func filterCodecs(md *sdp.MediaDescription, keep []string) error {
	names := make(map[string]string, len(md.MediaName.Formats))
	for _, f := range md.MediaName.Formats {
		if pt, err := strconv.Atoi(f); err == nil {
			if s, ok := staticPT[pt]; ok {
				names[f] = s.name
			}
		}
	}
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" {
			if pt, name, _, ok := parseRtpmap(a.Value); ok {
				names[strconv.Itoa(pt)] = name
			}
		}
	}
	wanted := func(f string) bool {
		n := names[f]
		for _, k := range keep {
			if n != "" && strings.EqualFold(k, n) {
				return true
			}
		}
		return false
	}
	kept := slices.DeleteFunc(slices.Clone(md.MediaName.Formats), func(f string) bool { return !wanted(f) })
	if len(kept) == 0 {
		return fmt.Errorf("%w: none of %v offered in %v", ErrNoCodec, keep, md.MediaName.Formats)
	}
	md.MediaName.Formats = kept
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb":
			pt, _, _ := strings.Cut(a.Value, " ")
			return pt != "*" && !slices.Contains(kept, pt)
		}
		return false
	})
	return nil
}

// trimAnswer drops from a relayed answer the codecs the offerer never
// offered (RFC 3264 6.1: an answer lists a subset of the offer); some
// endpoints answer with a fixed list whatever they were offered. offered
// maps the offer's payload types to codec names. An answer with nothing
// in common is left alone: the offerer refuses it as it would without us.
func trimAnswer(md *sdp.MediaDescription, offered map[string]string) {
	if len(offered) == 0 {
		return
	}
	keep := make([]string, 0, len(offered))
	for _, n := range offered {
		keep = append(keep, n)
	}
	trimmed := *md
	trimmed.MediaName.Formats = slices.Clone(md.MediaName.Formats)
	trimmed.Attributes = slices.Clone(md.Attributes)
	if filterCodecs(&trimmed, keep) == nil {
		*md = trimmed
	}
}

// originState keeps the o= line we present to one peer consistent: a
// stable session id and a version that grows whenever what we send changes
// (RFC 3264 8).
type originState struct {
	sessID, version uint64
	started         bool
	last            []byte
}

// stamp sets sd's o= line and marshals it.
func (os *originState) stamp(sd *sdp.SessionDescription, replace bool, addr netip.Addr, fallbackID uint64) ([]byte, error) {
	if !os.started {
		os.sessID, os.version = sd.Origin.SessionID, sd.Origin.SessionVersion
		if replace || os.sessID == 0 {
			os.sessID = fallbackID
		}
	}
	if replace {
		sd.Origin.Username = "-"
		sd.Origin.NetworkType, sd.Origin.AddressType = "IN", addrType(addr)
		sd.Origin.UnicastAddress = addr.String()
	}
	sd.Origin.SessionID, sd.Origin.SessionVersion = os.sessID, 0
	body, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: marshal: %w", ErrBadSDP, err)
	}
	if os.started && !bytes.Equal(body, os.last) {
		os.version++
	}
	os.started = true
	os.last = body
	sd.Origin.SessionVersion = os.version
	out, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: marshal: %w", ErrBadSDP, err)
	}
	return out, nil
}
