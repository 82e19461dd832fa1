package rtpengine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// browserOnlyAttrs are attributes of a browser's SDP (JSEP) that mean
// nothing to a plain SIP endpoint: header extensions, RTCP feedback, SSRC
// and stream identification, BUNDLE/mid, ICE options, RTP header
// encryption (cryptex, RFC 9335: SRTP of the browser's leg only).
var browserOnlyAttrs = map[string]bool{
	"cryptex": true, "extmap": true, "extmap-allow-mixed": true, "rtcp-fb": true, "ssrc": true, "ssrc-group": true,
	"msid": true, "msid-semantic": true, "rtcp-rsize": true, "ice-options": true, "mid": true,
}

// browserOnlyCodecs are payload formats browsers offer for their own
// resilience (redundancy, retransmission, FEC), never used by SIP peers.
var browserOnlyCodecs = []string{"red", "rtx", "ulpfec", "flexfec-03"}

// PlainSDP turns a browser's SDP into what a plain SIP endpoint expects:
// it removes the browser-only attributes and the payload types of
// redundancy/retransmission/FEC and of comfort noise and telephone-event
// at rates other than 8000 Hz. A browser offer with a dozen formats,
// header extensions and SSRC lines easily passes 1,300 bytes; a SIP
// request over UDP must stay below the path MTU (RFC 3261 section 18.1.1).
// Security, ICE and rtcp-mux attributes are left for the offer/answer
// rewrite to replace.
func PlainSDP(body []byte) ([]byte, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	sd.Attributes = slices.DeleteFunc(sd.Attributes, func(a sdp.Attribute) bool { return browserOnlyAttrs[a.Key] })
	for _, md := range sd.MediaDescriptions {
		drop := map[string]bool{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			name, rest, _ := strings.Cut(enc, "/")
			rate, _, _ := strings.Cut(rest, "/")
			lname := strings.ToLower(name)
			if slices.Contains(browserOnlyCodecs, lname) ||
				((lname == "telephone-event" || lname == "cn") && rate != "8000") {
				drop[pt] = true
			}
		}
		keep := md.MediaName.Formats[:0]
		for _, f := range md.MediaName.Formats {
			if !drop[f] {
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			// Nothing usable is left: keep the line as offered and let
			// the far end refuse it.
			continue
		}
		md.MediaName.Formats = keep
		md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
			if browserOnlyAttrs[a.Key] {
				return true
			}
			if a.Key == "rtpmap" || a.Key == "fmtp" {
				pt, _, _ := strings.Cut(a.Value, " ")
				return drop[pt]
			}
			return false
		})
	}
	out, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	// pion accepts some input (an empty body, for one) whose re-rendering
	// it would not accept again; never pass such SDP on.
	var check sdp.SessionDescription
	if err := check.Unmarshal(out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return out, nil
}

// Bundle is what a browser's offer said about BUNDLE (RFC 9143): the mid
// of each m= line, and whether they were grouped.
type Bundle struct {
	Mids    []string
	Grouped bool
}

// OfferBundle reads the mids and BUNDLE group of an offer.
func OfferBundle(offer []byte) (Bundle, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(offer); err != nil {
		return Bundle{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	var b Bundle
	for _, a := range sd.Attributes {
		if a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE") {
			b.Grouped = true
		}
	}
	for _, md := range sd.MediaDescriptions {
		mid, _ := md.Attribute("mid")
		b.Mids = append(b.Mids, mid)
	}
	return b, nil
}

// Apply puts the offer's mids into an answer and, when the offer grouped
// its m= lines and exactly one is accepted (sbcd anchors each m= line on
// its own port, so only a single line can honour the group), the BUNDLE
// group of that line. A browser refuses an answer that drops a mid or
// leaves a max-bundle group.
func (b Bundle) Apply(answer []byte) ([]byte, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(answer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	var accepted []string
	for i, md := range sd.MediaDescriptions {
		if i >= len(b.Mids) || b.Mids[i] == "" {
			continue
		}
		md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool { return a.Key == "mid" })
		md.Attributes = append(md.Attributes, sdp.NewAttribute("mid", b.Mids[i]))
		if md.MediaName.Port.Value != 0 {
			accepted = append(accepted, b.Mids[i])
		}
	}
	sd.Attributes = slices.DeleteFunc(sd.Attributes, func(a sdp.Attribute) bool {
		return a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE")
	})
	if b.Grouped && len(accepted) == 1 {
		sd.Attributes = append(sd.Attributes, sdp.NewAttribute("group", "BUNDLE "+accepted[0]))
	}
	out, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return out, nil
}

// NumberedBundle gives each m= line of an SDP the mid of its index and
// groups them with BUNDLE when only one is accepted: the shape of an offer
// a browser with any bundle policy takes.
func NumberedBundle(body []byte) ([]byte, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	b := Bundle{Grouped: true}
	for i := range sd.MediaDescriptions {
		b.Mids = append(b.Mids, fmt.Sprint(i))
	}
	return b.Apply(body)
}

// iceUfrag is the ice-ufrag of an SDP (first m= line, else session level).
func iceUfrag(sd *sdp.SessionDescription) string {
	for _, md := range sd.MediaDescriptions {
		if v, ok := md.Attribute("ice-ufrag"); ok {
			return v
		}
	}
	if v, ok := sd.Attribute("ice-ufrag"); ok {
		return v
	}
	return ""
}
