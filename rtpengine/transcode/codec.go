package transcode

import (
	"fmt"
	"strings"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/plc"
)

// Codec names as they appear in SDP (lower case).
const (
	PCMU = "pcmu"
	PCMA = "pcma"
	G722 = "g722"
	Opus = "opus"
	// TelephoneEvent is RFC 4733's payload format name.
	TelephoneEvent = "telephone-event"
)

// Codec is one side's negotiated audio format.
type Codec struct {
	// Name is pcmu, pcma, g722 or opus (case-insensitive).
	Name string
	// PT is the RTP payload type used on that side.
	PT uint8
}

// Supported reports whether name (case-insensitive) can be transcoded.
func Supported(name string) bool {
	switch strings.ToLower(name) {
	case PCMU, PCMA, G722, Opus:
		return true
	}
	return false
}

// pcmRate is the natural PCM rate of a codec; Opus follows its partner.
func pcmRate(name string) int {
	if name == G722 {
		return 16000
	}
	return 8000
}

// clockRate is the RTP clock of a codec (RFC 3551, RFC 7587).
func clockRate(name string) int {
	if name == Opus {
		return 48000
	}
	return 8000
}

// decoder turns payloads into PCM and conceals lost frames.
type decoder interface {
	// samples returns the PCM samples a payload decodes to.
	samples(payload []byte) (int, error)
	decode(payload []byte, pcm []int16) (int, error)
	// conceal fills pcm (one lost frame) from history, or from next's
	// forward error correction when next is not nil.
	conceal(pcm []int16, next []byte) error
}

// encoder turns a frame of PCM into a payload.
type encoder interface {
	encode(pcm []int16, out []byte) (int, error)
}

// g711Dec decodes PCMU or PCMA and conceals losses with codecs/plc.
type g711Dec struct {
	alaw bool
	plc  *plc.Concealer
}

func (d *g711Dec) samples(p []byte) (int, error) { return len(p), nil }

func (d *g711Dec) decode(p []byte, pcm []int16) (int, error) {
	if len(p) > len(pcm) {
		return 0, fmt.Errorf("%w: %d byte G.711 payload", ErrPacket, len(p))
	}
	if d.alaw {
		codecs.AlawDecodeFrame(pcm, p)
	} else {
		codecs.UlawDecodeFrame(pcm, p)
	}
	d.plc.Good(pcm[:len(p)])
	return len(p), nil
}

func (d *g711Dec) conceal(pcm []int16, _ []byte) error { d.plc.Lost(pcm); return nil }

type g711Enc struct{ alaw bool }

func (e g711Enc) encode(pcm []int16, out []byte) (int, error) {
	if e.alaw {
		return codecs.AlawEncodeFrame(out, pcm), nil
	}
	return codecs.UlawEncodeFrame(out, pcm), nil
}

// g722Dec decodes G.722 (two 16 kHz samples per byte) with codecs/plc.
type g722Dec struct {
	d   *g722.Decoder
	plc *plc.Concealer
}

func (d *g722Dec) samples(p []byte) (int, error) { return 2 * len(p), nil }

func (d *g722Dec) decode(p []byte, pcm []int16) (int, error) {
	n, err := d.d.Decode(pcm, p)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPacket, err)
	}
	d.plc.Good(pcm[:n])
	return n, nil
}

func (d *g722Dec) conceal(pcm []int16, _ []byte) error { d.plc.Lost(pcm); return nil }

type g722Enc struct{ e *g722.Encoder }

func (e g722Enc) encode(pcm []int16, out []byte) (int, error) { return e.e.Encode(out, pcm) }

// opusDec decodes Opus at the pipeline's rate; losses use Opus FEC when
// the next packet is at hand, else Opus PLC.
type opusDec struct {
	d    *opus.Decoder
	rate int
}

func (d *opusDec) samples(p []byte) (int, error) { return opus.PacketSamples(p, d.rate) }

func (d *opusDec) decode(p []byte, pcm []int16) (int, error) { return d.d.Decode(p, pcm) }

func (d *opusDec) conceal(pcm []int16, next []byte) error {
	if next != nil {
		if _, err := d.d.DecodeFEC(next, pcm); err == nil {
			return nil
		}
	}
	_, err := d.d.PLC(pcm)
	return err
}

type opusEnc struct{ e *opus.Encoder }

func (e opusEnc) encode(pcm []int16, out []byte) (int, error) { return e.e.Encode(pcm, out) }

// newDecoder builds the decoder of name producing PCM at rate.
func newDecoder(name string, rate int) (decoder, error) {
	switch name {
	case PCMU, PCMA:
		c, err := plc.New(8000)
		if err != nil {
			return nil, err
		}
		return &g711Dec{alaw: name == PCMA, plc: c}, nil
	case G722:
		c, err := plc.New(16000)
		if err != nil {
			return nil, err
		}
		return &g722Dec{d: g722.NewDecoder(), plc: c}, nil
	case Opus:
		d, err := opus.NewDecoder(opus.DecoderConfig{SampleRate: rate, Channels: 1})
		if err != nil {
			return nil, fmt.Errorf("%w: opus decoder: %w", ErrCodec, err)
		}
		return &opusDec{d: d, rate: rate}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrCodec, name)
}

// newEncoder builds the encoder of name taking PCM at rate.
func newEncoder(name string, rate int, cfg *Config) (encoder, error) {
	switch name {
	case PCMU, PCMA:
		return g711Enc{alaw: name == PCMA}, nil
	case G722:
		return g722Enc{e: g722.NewEncoder()}, nil
	case Opus:
		e, err := opus.NewEncoder(opus.EncoderConfig{
			SampleRate: rate, Channels: 1, FrameDuration: cfg.Ptime,
			Complexity: cfg.OpusComplexity, Bitrate: cfg.OpusBitrate, FEC: cfg.OpusFEC,
			Application: opusApplication(cfg),
		})
		if err != nil {
			return nil, fmt.Errorf("%w: opus encoder: %w", ErrCodec, err)
		}
		return opusEnc{e: e}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrCodec, name)
}

// opusApplication is the libopus application of the pipeline's encoder:
// VoIP when asked for or when in-band FEC needs its speech modes, else
// restricted low delay (Config.OpusVoIP).
func opusApplication(cfg *Config) opus.Application {
	if cfg.OpusVoIP || cfg.OpusFEC {
		return opus.VoIP
	}
	return opus.LowDelay
}
