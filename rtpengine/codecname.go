package rtpengine

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// auxCodecs are payload formats that ride beside a call's codec and never
// name it: DTMF events, comfort noise, redundancy, FEC and retransmission.
var auxCodecs = map[string]bool{
	"telephone-event": true, "cn": true, "red": true, "ulpfec": true, "flexfec": true,
	"flexfec-03": true, "rtx": true,
}

// codecName names the codec an m= line carries: its first format that is
// not an auxiliary one, as "NAME/clock" (upper case, except "opus", the
// name RFC 7587 registers), e.g. "PCMU/8000", "G722/8000", "opus/48000".
// It returns "" for a line without such a format.
func codecName(md *sdp.MediaDescription) string {
	if md == nil || md.MediaName.Port.Value == 0 {
		return ""
	}
	maps := make(map[string]string, len(md.Attributes))
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" {
			if pt, enc, ok := strings.Cut(a.Value, " "); ok {
				maps[pt] = strings.TrimSpace(enc)
			}
		}
	}
	for _, f := range md.MediaName.Formats {
		var name, clock string
		if enc, ok := maps[f]; ok {
			parts := strings.Split(enc, "/")
			if len(parts) < 2 {
				continue
			}
			name, clock = strings.ToLower(parts[0]), parts[1]
		} else if pt, err := strconv.Atoi(f); err == nil {
			s, ok := staticPT[pt]
			if !ok {
				continue
			}
			name, clock = s.name, strconv.FormatUint(uint64(s.clock), 10)
		} else {
			continue
		}
		if auxCodecs[name] {
			continue
		}
		if name != "opus" {
			name = strings.ToUpper(name)
		}
		return name + "/" + clock
	}
	return ""
}
