package policy

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DTMF modes of a realm or trunk (media.dtmf, trunks[].dtmf).
const (
	DTMFRFC4733 = "rfc4733"
	DTMFInfo    = "info"
	DTMFInband  = "inband"
)

// Ringback modes of a realm (media.ringback).
const (
	RingbackRelay = "relay"
	RingbackLocal = "local"
)

// Defaults of the tones and announcements.
const (
	DefaultToneCountry          = "US"
	DefaultAnnouncementDuration = 3 * time.Second
	maxAnnouncement             = time.Minute
)

// toneCountries are the countries of the call-progress tone tables
// (codecs/tones); GB is an alias of UK.
var toneCountries = []string{"DE", "FR", "GB", "IN", "UK", "US"}

// announcementTones are the tones an announcement may play.
var announcementTones = []string{"busy", "congestion", "ringback", "dial"}

// DTMFConfig is media.dtmf: settings of DTMF interworking.
type DTMFConfig struct {
	// SuppressInband mutes in-band digits detected on an inband leg in the
	// audio relayed to a leg that gets them as RFC 4733 events or SIP
	// INFO (that audio is then delayed by 40 ms). Default true.
	SuppressInband *bool `yaml:"suppress_inband"`
}

// Suppress reports whether detected in-band digits are muted.
func (d DTMFConfig) Suppress() bool { return d.SuppressInband == nil || *d.SuppressInband }

// AnnouncementConfig is what a caller hears, as early media, before a
// failure response: a WAV file or a call-progress tone.
type AnnouncementConfig struct {
	// WAV is a mono 8 kHz WAV file (16-bit PCM, A-law or µ-law), relative
	// to the configuration file's directory. Exactly one of WAV and Tone.
	WAV string `yaml:"wav"`
	// Tone is a call-progress tone of the caller realm's country: busy,
	// congestion, ringback or dial.
	Tone string `yaml:"tone"`
	// Duration is how long the tone plays, or the longest a WAV plays.
	// Default 3s for a tone, the file's length for a WAV; at most 1m.
	Duration time.Duration `yaml:"duration"`
}

// Announcement is a validated announcement: Code is the response it
// precedes.
type Announcement struct {
	Code int
	AnnouncementConfig
}

// Announcement returns the announcement played before final response
// code, if one is configured.
func (s *Set) Announcement(code int) (Announcement, bool) {
	a, ok := s.Config().Media.Announcements[strconv.Itoa(code)]
	if !ok {
		return Announcement{}, false
	}
	return Announcement{Code: code, AnnouncementConfig: a}, true
}

// DTMFMode returns the realm's DTMF mode (RealmMediaConfig.DTMF, default rfc4733).
func (m RealmMediaConfig) DTMFMode() string {
	if m.DTMF == "" {
		return DTMFRFC4733
	}
	return m.DTMF
}

// ToneCountry returns the realm's tone country (default US).
func (m RealmMediaConfig) ToneCountry() string {
	if m.Tones == "" {
		return DefaultToneCountry
	}
	return m.Tones
}

// mediaTonesDefaults resolves announcement files relative to dir and
// fills durations.
func (c *Config) mediaTonesDefaults(dir string) {
	for k, a := range c.Media.Announcements {
		a.WAV = resolve(dir, a.WAV)
		if a.Duration == 0 && a.Tone != "" {
			a.Duration = DefaultAnnouncementDuration
		}
		c.Media.Announcements[k] = a
	}
}

func (v *validator) mediaTones() {
	for i, r := range v.cfg.Realms {
		p := fmt.Sprintf("realms[%d].media", i)
		if r.Media.DTMF != "" {
			v.enum(p+".dtmf", r.Media.DTMF, DTMFRFC4733, DTMFInfo, DTMFInband)
		}
		if r.Media.Tones != "" && !slices.Contains(toneCountries, strings.ToUpper(r.Media.Tones)) {
			v.errAt(p+".tones", "%q is not a country of the tone tables (%s)", r.Media.Tones, quoteList(toneCountries...))
		}
		if r.Media.Ringback != "" {
			v.enum(p+".ringback", r.Media.Ringback, RingbackRelay, RingbackLocal)
		}
	}
	for i, t := range v.cfg.Trunks {
		if t.DTMF != "" {
			v.enum(fmt.Sprintf("trunks[%d].dtmf", i), t.DTMF, DTMFRFC4733, DTMFInfo, DTMFInband)
		}
	}
	codes := make([]string, 0, len(v.cfg.Media.Announcements))
	for k := range v.cfg.Media.Announcements {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	for _, k := range codes {
		a := v.cfg.Media.Announcements[k]
		p := "media.announcements." + k
		if n, err := strconv.Atoi(k); err != nil || n < 400 || n > 699 {
			v.errAt(p, "%q is not a failure response code (400-699)", k)
		}
		switch {
		case (a.WAV == "") == (a.Tone == ""):
			v.errAt(p, "give exactly one of wav and tone")
		case a.Tone != "":
			v.enum(p+".tone", a.Tone, announcementTones...)
		default:
			d, err := wavDuration(a.WAV)
			if err != nil {
				v.errAt(p+".wav", "%v", err)
			} else if d < 100*time.Millisecond || d > maxAnnouncement {
				v.errAt(p+".wav", "%s lasts %s (want 100ms-%s)", a.WAV, d.Round(time.Millisecond), maxAnnouncement)
			}
		}
		if a.Duration < 0 || a.Duration > maxAnnouncement {
			v.errAt(p+".duration", "%s is outside 0-%s", a.Duration, maxAnnouncement)
		}
	}
}

// wavDuration checks that file is a WAV sbcd can play into a call (mono,
// 8 kHz, 16-bit PCM, A-law or µ-law) and returns its length.
func wavDuration(file string) (time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return 0, fmt.Errorf("%s: not a RIFF/WAVE file", file)
	}
	var format, channels, bits uint16
	var rate uint32
	gotFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(f, ch[:]); err != nil {
			return 0, fmt.Errorf("%s: no data chunk", file)
		}
		size := binary.LittleEndian.Uint32(ch[4:])
		switch string(ch[0:4]) {
		case "fmt ":
			var b [16]byte
			if size < 16 {
				return 0, fmt.Errorf("%s: short fmt chunk", file)
			}
			if _, err := io.ReadFull(f, b[:]); err != nil {
				return 0, fmt.Errorf("%s: truncated fmt chunk", file)
			}
			format, channels = binary.LittleEndian.Uint16(b[0:]), binary.LittleEndian.Uint16(b[2:])
			rate, bits = binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint16(b[14:])
			gotFmt = true
			if _, err := f.Seek(int64(size-16+size%2), io.SeekCurrent); err != nil {
				return 0, err
			}
		case "data":
			if !gotFmt {
				return 0, fmt.Errorf("%s: data before fmt", file)
			}
			ok := channels == 1 && rate == 8000 &&
				(format == 1 && bits == 16 || (format == 6 || format == 7) && bits == 8)
			if !ok {
				return 0, fmt.Errorf("%s: unsupported format (format %d, %d channels, %d Hz, %d bits; want mono 8000 Hz 16-bit PCM, A-law or µ-law)",
					file, format, channels, rate, bits)
			}
			return time.Duration(size/uint32(bits/8)) * time.Second / 8000, nil
		default:
			if _, err := f.Seek(int64(size+size%2), io.SeekCurrent); err != nil {
				return 0, err
			}
		}
	}
}
