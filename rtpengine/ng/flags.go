package ng

import (
	"slices"
	"strings"

	"github.com/openborder/openborder/rtpengine"
)

// transportProtocols are the values "transport-protocol" may take.
var transportProtocols = []string{
	"RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF",
}

// quietFlags describe what the engine does anyway (it latches on the first
// packet from the expected peer and trusts nothing else); they are accepted
// without a warning.
var quietFlags = map[string]bool{
	"trust-address":      true,
	"sip-source-address": true,
	"symmetric":          true,
	"port-latching":      true,
	"strict-source":      true,
	"media-handover":     true,
	"loop-protect":       true,
	"all":                true,
}

// maxWarnings bounds the number of ignored flags named in a warning.
const maxWarnings = 8

// parseFlags maps the ng keys of an offer or answer onto rtpengine.Flags.
// Options the engine does not implement are appended to warn; values of the
// wrong type or out of range are errors.
func parseFlags(msg Value, warn *[]string) (rtpengine.Flags, error) {
	var f rtpengine.Flags
	var ignored []string
	ignore := func(s string) {
		if len(ignored) < maxWarnings {
			ignored = append(ignored, truncate(s, 64))
		}
	}

	if v, ok := msg.Get("direction"); ok {
		dirs, err := stringList(v, "direction")
		if err != nil {
			return f, err
		}
		if err := setDirection(&f, dirs); err != nil {
			return f, err
		}
	}
	if s, ok, err := optionalString(msg, "ICE"); err != nil {
		return f, err
	} else if ok {
		if err := setICE(&f, s, ignore); err != nil {
			return f, err
		}
	}
	if s, ok, err := optionalString(msg, "transport-protocol"); err != nil {
		return f, err
	} else if ok {
		if err := setTransport(&f, s); err != nil {
			return f, err
		}
	}
	if v, ok := msg.Get("rtcp-mux"); ok {
		modes, err := stringList(v, "rtcp-mux")
		if err != nil {
			return f, err
		}
		for _, m := range modes {
			if err := setRTCPMux(&f, m, ignore); err != nil {
				return f, err
			}
		}
	}
	if v, ok := msg.Get("replace"); ok {
		items, err := stringList(v, "replace")
		if err != nil {
			return f, err
		}
		for _, it := range items {
			setReplace(&f, it, ignore)
		}
	}
	if s, ok, err := optionalString(msg, "record-call"); err != nil {
		return f, err
	} else if ok {
		switch strings.ToLower(s) {
		case "yes", "on":
			f.Record = true
		case "no", "off", "":
		default:
			return f, badRequest("record-call must be yes or no, got %q", truncate(s, 32))
		}
	}
	if v, ok := msg.Get("codec"); ok {
		if err := parseCodec(&f, v, ignore); err != nil {
			return f, err
		}
	}
	if v, ok := msg.Get("flags"); ok {
		list, err := stringList(v, "flags")
		if err != nil {
			return f, err
		}
		for _, fl := range list {
			if err := applyFlag(&f, fl, ignore); err != nil {
				return f, err
			}
		}
	}
	if len(ignored) > 0 {
		*warn = append(*warn, "ignored unsupported options: "+strings.Join(ignored, ", "))
	}
	return f, nil
}

// applyFlag handles one entry of the "flags" list, including the
// "key=value" and "replace-…", "rtcp-mux-…", "codec-…" spellings.
func applyFlag(f *rtpengine.Flags, fl string, ignore func(string)) error {
	if k, v, ok := strings.Cut(fl, "="); ok {
		switch strings.ToLower(k) {
		case "ice":
			return setICE(f, v, ignore)
		case "transport-protocol":
			return setTransport(f, v)
		case "direction":
			switch {
			case f.FromInterface == "":
				f.FromInterface = v
			case f.ToInterface == "":
				f.ToInterface = v
			default:
				return badRequest("more than two directions")
			}
			return nil
		case "record-call":
			f.Record = strings.EqualFold(v, "yes") || strings.EqualFold(v, "on")
			return nil
		}
		ignore(fl)
		return nil
	}
	lower := strings.ToLower(fl)
	switch {
	case quietFlags[lower]:
		return nil
	case lower == "record-call":
		f.Record = true
	case strings.HasPrefix(lower, "replace-"):
		setReplace(f, lower[len("replace-"):], ignore)
	case strings.HasPrefix(lower, "rtcp-mux-"):
		return setRTCPMux(f, lower[len("rtcp-mux-"):], ignore)
	case strings.HasPrefix(lower, "codec-except-"):
		addCodec(f, fl[len("codec-except-"):])
	case strings.HasPrefix(lower, "codec-offer-"):
		addCodec(f, fl[len("codec-offer-"):])
	case lower == "codec-strip-all" || lower == "codec-mask-all":
	case slices.Contains(transportProtocols, strings.ToUpper(fl)):
		return setTransport(f, fl)
	default:
		ignore(fl)
	}
	return nil
}

func setDirection(f *rtpengine.Flags, dirs []string) error {
	switch len(dirs) {
	case 0:
		return nil
	case 2:
		if dirs[0] == "" || dirs[1] == "" {
			return badRequest("direction names must not be empty")
		}
		f.FromInterface, f.ToInterface = dirs[0], dirs[1]
		return nil
	default:
		return badRequest("direction must list two interfaces, got %d", len(dirs))
	}
}

func setICE(f *rtpengine.Flags, s string, ignore func(string)) error {
	switch strings.ToLower(s) {
	case "remove":
		f.ICE = "remove"
	case "force":
		f.ICE = "force"
	case "", "default":
	case "force-relay", "optional", "passive", "active":
		ignore("ICE=" + s)
	default:
		return badRequest("unsupported ICE value %q", truncate(s, 32))
	}
	return nil
}

func setTransport(f *rtpengine.Flags, s string) error {
	for _, p := range transportProtocols {
		if strings.EqualFold(p, s) {
			f.TransportProtocol = p
			return nil
		}
	}
	return badRequest("unsupported transport-protocol %q", truncate(s, 32))
}

// setRTCPMux keeps the first mode given; later different modes are ignored
// with a warning because the engine applies one mode per side.
func setRTCPMux(f *rtpengine.Flags, m string, ignore func(string)) error {
	m = strings.ToLower(m)
	switch m {
	case "offer", "demux", "accept", "require":
		if f.RTCPMux == "" {
			f.RTCPMux = m
		} else if f.RTCPMux != m {
			ignore("rtcp-mux " + m)
		}
	case "reject":
		ignore("rtcp-mux reject")
	default:
		return badRequest("unsupported rtcp-mux value %q", truncate(m, 32))
	}
	return nil
}

func setReplace(f *rtpengine.Flags, it string, ignore func(string)) {
	switch strings.ToLower(it) {
	case "origin":
		f.ReplaceOrigin = true
	case "session-connection", "session connection":
		f.ReplaceSessionConnection = true
	default:
		ignore("replace " + it)
	}
}

// parseCodec reads the "codec" dictionary. "except" and "offer" name the
// codecs kept; "strip"/"mask" "all" only confirm that; stripping individual
// codecs and the other operations are not supported.
func parseCodec(f *rtpengine.Flags, v Value, ignore func(string)) error {
	if v.Kind != KindDict {
		return badRequest("codec must be a dictionary, got %s", v.Kind)
	}
	for _, e := range v.Dict {
		op := string(e.Key)
		names, err := stringList(e.Value, "codec "+truncate(op, 32))
		if err != nil {
			return err
		}
		switch strings.ToLower(op) {
		case "except", "offer":
			for _, n := range names {
				addCodec(f, n)
			}
		case "strip", "mask":
			for _, n := range names {
				if !strings.EqualFold(n, "all") && !strings.EqualFold(n, "full") {
					ignore("codec " + op + " " + n)
				}
			}
		default:
			if len(names) > 0 {
				ignore("codec " + op)
			}
		}
	}
	return nil
}

func addCodec(f *rtpengine.Flags, name string) {
	if name == "" {
		return
	}
	for _, c := range f.Codecs {
		if strings.EqualFold(c, name) {
			return
		}
	}
	f.Codecs = append(f.Codecs, name)
}

// stringList returns a list of byte strings; a single string is accepted as
// a one-element list.
func stringList(v Value, key string) ([]string, error) {
	switch v.Kind {
	case KindString:
		return []string{string(v.Str)}, nil
	case KindList:
		out := make([]string, 0, len(v.List))
		for i, e := range v.List {
			if e.Kind != KindString {
				return nil, badRequest("%s[%d] must be a string, got %s", key, i, e.Kind)
			}
			out = append(out, string(e.Str))
		}
		return out, nil
	default:
		return nil, badRequest("%s must be a list, got %s", key, v.Kind)
	}
}
