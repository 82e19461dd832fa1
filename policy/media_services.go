package policy

import "fmt"

// Defaults of the media services (transcoding, recording).
const (
	DefaultTranscodeQueue  = 1024
	DefaultOpusBitrate     = 32000
	DefaultReorderDepth    = 2
	DefaultRecordingQueue  = 4096
	DefaultRecordingFormat = "wav"
	maxTranscodeWorkers    = 256
	maxMediaServicesQueue  = 1 << 16
)

// OpusLowDelay and OpusVoIP are the values of opus_application.
const (
	OpusLowDelay = "lowdelay"
	OpusVoIP     = "voip"
)

// TranscodingConfig configures the media engine's codec conversion.
// Transcoding happens only when necessary: when a realm's or trunk's
// `codecs` list leaves a call's legs no codec in common.
type TranscodingConfig struct {
	// Enabled allows transcoding. Default true; false makes such calls
	// fail with 488 as before.
	Enabled *bool `yaml:"enabled"`
	// Workers, above 0, runs the pipelines on a pool of that many
	// goroutines behind bounded queues; -1 runs them inline on the
	// relay's reading path. Default 0: the engine chooses by its relay
	// (docs/benchmarks.md).
	Workers int `yaml:"workers"`
	// Queue bounds each worker's packet queue (workers > 0). Default 1024.
	Queue int `yaml:"queue"`
	// MaxSessions caps the calls transcoded at once. Default 0: no cap.
	MaxSessions int `yaml:"max_sessions"`
	// OpusComplexity is the Opus encoder complexity, 0-10. Default (nil):
	// the engine's, by the encoder's application (0 for restricted low
	// delay; 3 for VoIP, FEC and the conference rooms).
	OpusComplexity *int `yaml:"opus_complexity"`
	// OpusBitrate is the Opus encoder bitrate in bit/s, 6000-510000. Default 32000.
	OpusBitrate int `yaml:"opus_bitrate"`
	// OpusFEC adds Opus in-band forward error correction. Default false.
	OpusFEC bool `yaml:"opus_fec"`
	// OpusApplication is the libopus application of the encoders:
	// lowdelay (CELT only, about a third of the CPU) or voip (the speech
	// modes, needed for in-band FEC). Default lowdelay, voip with opus_fec.
	OpusApplication string `yaml:"opus_application"`
	// ReorderDepth is how many later packets the decode side waits for
	// before it conceals a missing one, 1-8. Default 2.
	ReorderDepth int `yaml:"reorder_depth"`
}

// RecordingConfig configures call recording (per realm/trunk `record`,
// or per call through the admin API).
type RecordingConfig struct {
	// Directory receives the recordings. Default "": recording is off.
	Directory string `yaml:"directory"`
	// Formats are the files written: wav (stereo, one leg per channel)
	// and/or pcap. Default [wav].
	Formats []string `yaml:"formats"`
	// Queue bounds each recording's packet queue. Default 4096.
	Queue int `yaml:"queue"`
}

// TranscodingEnabled reports whether transcoding is on.
func (t TranscodingConfig) TranscodingEnabled() bool { return t.Enabled == nil || *t.Enabled }

// HasFormat reports whether the recording writes format f.
func (r RecordingConfig) HasFormat(f string) bool {
	for _, x := range r.Formats {
		if x == f {
			return true
		}
	}
	return false
}

// mediaServicesDefaults fills the defaults of media.transcoding and
// media.recording; a relative recording directory is taken relative to
// the configuration file's directory.
func (c *Config) mediaServicesDefaults(dir string) {
	c.Media.Recording.Directory = resolve(dir, c.Media.Recording.Directory)
	t := &c.Media.Transcoding
	if t.Enabled == nil {
		on := true
		t.Enabled = &on
	}
	setInt(&t.Queue, DefaultTranscodeQueue)
	setInt(&t.OpusBitrate, DefaultOpusBitrate)
	if t.OpusApplication == "" {
		t.OpusApplication = OpusLowDelay
		if t.OpusFEC {
			t.OpusApplication = OpusVoIP
		}
	}
	setInt(&t.ReorderDepth, DefaultReorderDepth)
	r := &c.Media.Recording
	if len(r.Formats) == 0 {
		r.Formats = []string{DefaultRecordingFormat}
	}
	setInt(&r.Queue, DefaultRecordingQueue)
}

func (v *validator) mediaServices() {
	t := v.cfg.Media.Transcoding
	p := "media.transcoding"
	if t.Workers < -1 || t.Workers > maxTranscodeWorkers {
		v.errAt(p+".workers", "%d is outside -1-%d", t.Workers, maxTranscodeWorkers)
	}
	if t.Queue < 1 || t.Queue > maxMediaServicesQueue {
		v.errAt(p+".queue", "%d is outside 1-%d", t.Queue, maxMediaServicesQueue)
	}
	if t.MaxSessions < 0 {
		v.errAt(p+".max_sessions", "%d must not be negative", t.MaxSessions)
	}
	if t.OpusComplexity != nil {
		if c := *t.OpusComplexity; c < 0 || c > 10 {
			v.errAt(p+".opus_complexity", "%d is outside 0-10", c)
		}
	}
	if t.OpusBitrate < 6000 || t.OpusBitrate > 510000 {
		v.errAt(p+".opus_bitrate", "%d is outside 6000-510000 bit/s", t.OpusBitrate)
	}
	v.enum(p+".opus_application", t.OpusApplication, OpusLowDelay, OpusVoIP)
	if t.OpusFEC && t.OpusApplication == OpusLowDelay {
		v.errAt(p+".opus_fec", "in-band FEC needs the speech modes of opus_application: voip")
	}
	if t.ReorderDepth < 1 || t.ReorderDepth > 8 {
		v.errAt(p+".reorder_depth", "%d is outside 1-8", t.ReorderDepth)
	}
	r := v.cfg.Media.Recording
	p = "media.recording"
	seen := map[string]bool{}
	for i, f := range r.Formats {
		fp := fmt.Sprintf("%s.formats[%d]", p, i)
		v.enum(fp, f, "wav", "pcap")
		if seen[f] {
			v.errAt(fp, "format %q listed twice", f)
		}
		seen[f] = true
	}
	if r.Queue < 1 || r.Queue > maxMediaServicesQueue {
		v.errAt(p+".queue", "%d is outside 1-%d", r.Queue, maxMediaServicesQueue)
	}
	if r.Directory == "" {
		for i, realm := range v.cfg.Realms {
			if realm.Media.Record {
				v.errAt(fmt.Sprintf("realms[%d].media.record", i), "recording needs media.recording.directory")
			}
		}
		for i, t := range v.cfg.Trunks {
			if t.Record {
				v.errAt(fmt.Sprintf("trunks[%d].record", i), "recording needs media.recording.directory")
			}
		}
	}
}
