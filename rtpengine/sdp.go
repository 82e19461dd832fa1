package rtpengine

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Limits on SDP we accept (bounded work on untrusted input).
const (
	maxSDPSize   = 64 << 10
	maxMediaDesc = 32
)

// Direction attribute values.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// sdpStream is what the engine learns from one m= line of a peer's SDP.
type sdpStream struct {
	media string
	port  int        // 0 = rejected
	addr  netip.Addr // media-level c= or else session-level c=
	rtcp  netip.AddrPort
	mux   bool // a=rtcp-mux
	dir   string
	ptime int // a=ptime in ms; 0 = none
	clock [128]uint32
	names map[string]string // payload type -> lower-case codec name
	order []string          // payload types in m= order
}

// hold reports whether the stream is on hold (not sendrecv, or the old
// c=0.0.0.0 style).
func (s *sdpStream) hold() bool { return s.dir != dirSendRecv || s.addr.IsUnspecified() }

// rtpAddr is the peer's RTP address.
func (s *sdpStream) rtpAddr() netip.AddrPort { return netip.AddrPortFrom(s.addr, uint16(s.port)) }

// parseSDP unmarshals and checks an SDP body and extracts its streams.
func parseSDP(b []byte) (*sdp.SessionDescription, []sdpStream, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: empty body", ErrBadSDP)
	}
	if len(b) > maxSDPSize {
		return nil, nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadSDP, len(b), maxSDPSize)
	}
	sd := new(sdp.SessionDescription)
	if err := sd.UnmarshalString(string(b)); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if !strings.HasPrefix(string(b), "v=0") {
		return nil, nil, fmt.Errorf("%w: does not start with v=0", ErrBadSDP)
	}
	if o := sd.Origin; o.NetworkType != "IN" || (o.AddressType != "IP4" && o.AddressType != "IP6") || o.UnicastAddress == "" || o.Username == "" {
		return nil, nil, fmt.Errorf("%w: malformed o= line", ErrBadSDP)
	}
	if len(sd.TimeDescriptions) == 0 {
		return nil, nil, fmt.Errorf("%w: no t= line", ErrBadSDP)
	}
	if sd.SessionName == "" {
		sd.SessionName = "-"
	}
	if len(sd.MediaDescriptions) > maxMediaDesc {
		return nil, nil, fmt.Errorf("%w: %d m= lines exceeds %d", ErrBadSDP, len(sd.MediaDescriptions), maxMediaDesc)
	}
	var sessAddr netip.Addr
	if sd.ConnectionInformation != nil {
		a, err := connAddr(sd.ConnectionInformation)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: session c=: %w", ErrBadSDP, err)
		}
		sessAddr = a
	}
	sessDir := direction(sd.Attributes, dirSendRecv)
	streams := make([]sdpStream, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		st, err := parseStream(md, sessAddr, sessDir)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: m= line %d: %w", ErrBadSDP, i+1, err)
		}
		streams[i] = st
	}
	return sd, streams, nil
}

func parseStream(md *sdp.MediaDescription, sessAddr netip.Addr, sessDir string) (sdpStream, error) {
	st := sdpStream{media: md.MediaName.Media, port: md.MediaName.Port.Value, addr: sessAddr}
	if st.port < 0 || st.port > 65535 {
		return st, fmt.Errorf("port %d out of range", st.port)
	}
	if md.MediaName.Port.Range != nil && *md.MediaName.Port.Range != 1 {
		return st, fmt.Errorf("port ranges are not supported")
	}
	if len(md.MediaName.Protos) == 0 || len(md.MediaName.Formats) == 0 {
		return st, fmt.Errorf("no protocol or formats")
	}
	if md.ConnectionInformation != nil {
		a, err := connAddr(md.ConnectionInformation)
		if err != nil {
			return st, fmt.Errorf("c=: %w", err)
		}
		st.addr = a
	}
	if st.port != 0 && !st.addr.IsValid() {
		return st, fmt.Errorf("no connection address")
	}
	st.dir = direction(md.Attributes, sessDir)
	st.rtcp = netip.AddrPortFrom(st.addr, uint16(st.port+1))
	st.names = make(map[string]string, len(md.MediaName.Formats))
	st.order = md.MediaName.Formats
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue // non-RTP formats (e.g. webrtc-datachannel) carry no clock
		}
		if s, ok := staticPT[pt]; ok {
			st.names[f] = s.name
			st.clock[pt] = s.clock
		}
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtcp-mux":
			st.mux = true
		case "ptime":
			if ms, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && ms > 0 && ms <= 200 {
				st.ptime = ms
			}
		case "rtcp":
			port, addr, err := parseRTCPAttr(a.Value)
			if err != nil {
				return st, fmt.Errorf("a=rtcp: %w", err)
			}
			if !addr.IsValid() {
				addr = st.addr
			}
			st.rtcp = netip.AddrPortFrom(addr, uint16(port))
		case "rtpmap":
			pt, name, clock, ok := parseRtpmap(a.Value)
			if !ok {
				return st, fmt.Errorf("a=rtpmap %q malformed", a.Value)
			}
			st.names[strconv.Itoa(pt)] = name
			st.clock[pt] = clock
		}
	}
	return st, nil
}

// connAddr parses the address of a c= line (IN IP4/IP6 unicast).
func connAddr(c *sdp.ConnectionInformation) (netip.Addr, error) {
	if c.NetworkType != "IN" || c.Address == nil {
		return netip.Addr{}, fmt.Errorf("unsupported network %q", c.NetworkType)
	}
	a, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not an IP address", c.Address.Address)
	}
	a = a.Unmap()
	if (c.AddressType == "IP4") != a.Is4() {
		return netip.Addr{}, fmt.Errorf("address %q does not match %s", c.Address.Address, c.AddressType)
	}
	return a, nil
}

// parseRTCPAttr parses "port [IN IP4 addr]" (RFC 3605).
func parseRTCPAttr(v string) (int, netip.Addr, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, netip.Addr{}, fmt.Errorf("empty")
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port <= 0 || port > 65535 {
		return 0, netip.Addr{}, fmt.Errorf("bad port %q", f[0])
	}
	if len(f) == 4 {
		a, err := netip.ParseAddr(f[3])
		if err != nil {
			return 0, netip.Addr{}, fmt.Errorf("bad address %q", f[3])
		}
		return port, a.Unmap(), nil
	}
	return port, netip.Addr{}, nil
}

// parseRtpmap parses "96 opus/48000/2".
func parseRtpmap(v string) (pt int, name string, clock uint32, ok bool) {
	ptStr, enc, found := strings.Cut(v, " ")
	if !found {
		return 0, "", 0, false
	}
	pt, err := strconv.Atoi(ptStr)
	if err != nil || pt < 0 || pt > 127 {
		return 0, "", 0, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return 0, "", 0, false
	}
	c, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || c == 0 {
		return 0, "", 0, false
	}
	return pt, strings.ToLower(parts[0]), uint32(c), true
}

// direction returns the direction attribute among attrs, or def.
func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			return a.Key
		}
	}
	return def
}

type staticCodec struct {
	name  string
	clock uint32
}

// staticPT are the static payload types of RFC 3551 (G.722's RTP clock is
// 8000 by that RFC's errata).
var staticPT = map[int]staticCodec{
	0: {"pcmu", 8000}, 3: {"gsm", 8000}, 4: {"g723", 8000}, 5: {"dvi4", 8000},
	6: {"dvi4", 16000}, 7: {"lpc", 8000}, 8: {"pcma", 8000}, 9: {"g722", 8000},
	10: {"l16", 44100}, 11: {"l16", 44100}, 12: {"qcelp", 8000}, 13: {"cn", 8000},
	14: {"mpa", 90000}, 15: {"g728", 8000}, 16: {"dvi4", 11025}, 17: {"dvi4", 22050},
	18: {"g729", 8000}, 25: {"celb", 90000}, 26: {"jpeg", 90000}, 28: {"nv", 90000},
	31: {"h261", 90000}, 32: {"mpv", 90000}, 33: {"mp2t", 90000}, 34: {"h263", 90000},
}
