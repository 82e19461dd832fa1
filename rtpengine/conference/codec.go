package conference

import (
	"fmt"
	"strings"
	"time"

	"github.com/openborder/openborder/codecs"
	"github.com/openborder/openborder/codecs/g722"
	"github.com/openborder/openborder/codecs/opus"
	"github.com/openborder/openborder/codecs/plc"
	"github.com/openborder/openborder/codecs/resample"
)

// Rate is the internal mixing rate in Hz; Frame the samples of one 20 ms
// mixing step at that rate.
const (
	Rate      = 16000
	FrameTime = 20 * time.Millisecond
	Frame     = Rate / 50
)

// Codec names as they appear in SDP (lower case).
const (
	PCMU = "pcmu"
	PCMA = "pcma"
	G722 = "g722"
	Opus = "opus"
)

// Buffer sizes. maxPayload bounds one RTP payload; inSize holds the
// decoded input (one frame still to mix plus the largest payload decoded:
// 1500 G.711 or G.722 bytes are 3000 samples at 16 kHz); outSize the
// mixed output waiting for a packet (60 ms plus one frame).
const (
	maxPayload = 1500
	inSize     = Frame + 2*maxPayload
	outSize    = 4 * Frame
	pktSize    = 12 + opus.MaxPacketBytes
)

// Supported reports whether the mixer can take a participant speaking
// codec name (case-insensitive).
func Supported(name string) bool {
	switch strings.ToLower(name) {
	case PCMU, PCMA, G722, Opus:
		return true
	}
	return false
}

// clockRate is the RTP clock of a codec (RFC 3551: G.722 counts 8 kHz;
// RFC 7587: Opus counts 48 kHz).
func clockRate(name string) int {
	if name == Opus {
		return 48000
	}
	return 8000
}

// validPtime reports whether a codec can be packetised at d.
func validPtime(name string, d time.Duration) bool {
	ms := []time.Duration{10, 20, 30, 40, 60}
	if name == Opus {
		ms = []time.Duration{10, 20, 40, 60}
	}
	for _, m := range ms {
		if d == m*time.Millisecond {
			return true
		}
	}
	return false
}

// decoder turns payloads into 16 kHz PCM.
type decoder interface {
	// decode writes the payload's samples at Rate into pcm.
	decode(payload []byte, pcm []int16) (int, error)
	// conceal fills pcm (one lost packet, len(pcm) samples at Rate).
	conceal(pcm []int16)
}

// encoder turns PCM at Rate (one packet's worth) into a payload.
type encoder interface {
	encode(pcm []int16, out []byte) (int, error)
}

// g711Dec decodes G.711 at 8 kHz, conceals losses there, and doubles the rate.
type g711Dec struct {
	alaw bool
	plc  *plc.Concealer
	up   *resample.Resampler
	pcm8 [maxPayload]int16
}

func (d *g711Dec) decode(p []byte, pcm []int16) (int, error) {
	if len(p) > len(d.pcm8) || 2*len(p) > len(pcm) {
		return 0, fmt.Errorf("%w: %d byte G.711 payload", ErrCodec, len(p))
	}
	x := d.pcm8[:len(p)]
	if d.alaw {
		codecs.AlawDecodeFrame(x, p)
	} else {
		codecs.UlawDecodeFrame(x, p)
	}
	d.plc.Good(x)
	return d.up.Process(pcm, x)
}

func (d *g711Dec) conceal(pcm []int16) {
	x := d.pcm8[:min(len(pcm)/2, len(d.pcm8))]
	d.plc.Lost(x)
	_, _ = d.up.Process(pcm, x)
}

// g711Enc halves the rate and encodes G.711.
type g711Enc struct {
	alaw bool
	down *resample.Resampler
	pcm8 [outSize]int16
}

func (e *g711Enc) encode(pcm []int16, out []byte) (int, error) {
	n, err := e.down.Process(e.pcm8[:], pcm)
	if err != nil {
		return 0, err
	}
	if e.alaw {
		return codecs.AlawEncodeFrame(out, e.pcm8[:n]), nil
	}
	return codecs.UlawEncodeFrame(out, e.pcm8[:n]), nil
}

// g722Dec decodes G.722 (16 kHz) and conceals losses.
type g722Dec struct {
	d   *g722.Decoder
	plc *plc.Concealer
}

func (d *g722Dec) decode(p []byte, pcm []int16) (int, error) {
	n, err := d.d.Decode(pcm, p)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCodec, err)
	}
	d.plc.Good(pcm[:n])
	return n, nil
}

func (d *g722Dec) conceal(pcm []int16) { d.plc.Lost(pcm) }

type g722Enc struct{ e *g722.Encoder }

func (e g722Enc) encode(pcm []int16, out []byte) (int, error) { return e.e.Encode(out, pcm) }

// opusDec decodes Opus at 16 kHz; losses use Opus PLC.
type opusDec struct{ d *opus.Decoder }

func (d opusDec) decode(p []byte, pcm []int16) (int, error) { return d.d.Decode(p, pcm) }

func (d opusDec) conceal(pcm []int16) {
	if _, err := d.d.PLC(pcm); err != nil {
		clear(pcm)
	}
}

type opusEnc struct{ e *opus.Encoder }

func (e opusEnc) encode(pcm []int16, out []byte) (int, error) { return e.e.Encode(pcm, out) }

// newDecoder builds the decoder of a codec producing PCM at Rate.
func newDecoder(name string) (decoder, error) {
	switch name {
	case PCMU, PCMA:
		c, err := plc.New(8000)
		if err != nil {
			return nil, err
		}
		up, err := resample.New(8000, Rate)
		if err != nil {
			return nil, err
		}
		return &g711Dec{alaw: name == PCMA, plc: c, up: up}, nil
	case G722:
		c, err := plc.New(Rate)
		if err != nil {
			return nil, err
		}
		return &g722Dec{d: g722.NewDecoder(), plc: c}, nil
	case Opus:
		d, err := opus.NewDecoder(opus.DecoderConfig{SampleRate: Rate, Channels: 1})
		if err != nil {
			return nil, fmt.Errorf("%w: opus decoder: %w", ErrCodec, err)
		}
		return opusDec{d: d}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrCodec, name)
}

// newEncoder builds the encoder of a codec taking PCM at Rate.
func newEncoder(name string, ptime time.Duration, cfg *Config) (encoder, error) {
	switch name {
	case PCMU, PCMA:
		down, err := resample.New(Rate, 8000)
		if err != nil {
			return nil, err
		}
		return &g711Enc{alaw: name == PCMA, down: down}, nil
	case G722:
		return g722Enc{e: g722.NewEncoder()}, nil
	case Opus:
		e, err := opus.NewEncoder(opus.EncoderConfig{
			SampleRate: Rate, Channels: 1, FrameDuration: ptime,
			Complexity: cfg.OpusComplexity, Bitrate: cfg.OpusBitrate,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: opus encoder: %w", ErrCodec, err)
		}
		return opusEnc{e: e}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrCodec, name)
}
